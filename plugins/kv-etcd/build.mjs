// Builds src/provider.js into kv_etcd.wasm: a WebAssembly component of the
// world `provider-plugin` of cairn:provider@0.2.0, made by ComponentizeJS.
//
//     node build.mjs [OUT_DIR]      # OUT_DIR defaults to this folder
//
// ComponentizeJS shows the engine only the folder it runs in, while it
// initialises: the provider's sources, the SDK (`sdk-js/` of this
// repository, as `cairn-sdk/`, without its tests) and the contract's WIT
// (`wit/provider@0.2.0/`, as `wit/`) are copied into a scratch folder,
// which the build runs in and removes afterwards.
//
// COMPONENTIZE_JS_DIR names the folder whose node_modules holds
// @bytecodealliance/componentize-js 0.23.0 (default
// /var/tmp/cairn-componentize-js, which scripts/setup.sh installs).

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** This folder: the provider's root. */
const ROOT = dirname(fileURLToPath(import.meta.url));
/** The repository this provider lives in (`plugins/kv-etcd/`). */
const REPOSITORY = resolve(ROOT, '..', '..');
/** The provider's sources, copied as `src/`. */
const SOURCES = join(ROOT, 'src');
/** The SDK layer, copied as `cairn-sdk/`; the provider imports `../cairn-sdk/index.js`. */
const SDK = join(REPOSITORY, 'sdk-js');
/** The SDK's folder of tests, which the component does not need. */
const SDK_TESTS = 'test';
/** The contract's WIT, with the WASI packages it imports under `deps/`. */
const WIT = join(REPOSITORY, 'wit', 'provider@0.2.0');
/** The world a provider component targets. */
const WORLD = 'provider-plugin';
/** The module ComponentizeJS builds, inside the scratch folder. */
const ENTRY = join('src', 'provider.js');
/** The plugin the build writes, which cairn-test.toml loads. */
const PLUGIN = 'kv_etcd.wasm';
/** The package that builds the component. */
const COMPONENTIZE = '@bytecodealliance/componentize-js';
/** The version of it this build is made and tested with. */
const PINNED = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies[COMPONENTIZE];
/** Where ComponentizeJS is installed when `COMPONENTIZE_JS_DIR` says nothing. */
const DEFAULT_TOOLCHAIN = '/var/tmp/cairn-componentize-js';
/**
 * Engine features left out: `fetch-event` serves HTTP, which a provider
 * never does, and `http` is `fetch()`, which the SDK does not use (it
 * speaks wasi:http itself, so that an error keeps its kind). `stdio`
 * stays: without it a crash shows no message.
 */
const DISABLED_FEATURES = ['fetch-event', 'http'];
/** Bytes in a mebibyte, for the size printed. */
const MIB = 1024 * 1024;

/**
 * Stops the build with `message`.
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`build failed: ${message}`);
  process.exit(1);
}

/**
 * The JavaScript files under `folder`, recursively.
 * @param {string} folder
 * @returns {string[]}
 */
function sources(folder) {
  return readdirSync(folder, { recursive: true })
    .map((name) => join(folder, String(name)))
    .filter((path) => /\.m?js$/.test(path) && statSync(path).isFile());
}

/**
 * The `componentize` function of the pinned ComponentizeJS in
 * `toolchain`'s node_modules, or the build's failure saying what to
 * install.
 * @param {string} toolchain
 */
async function loadComponentize(toolchain) {
  const folder = join(toolchain, 'node_modules', ...COMPONENTIZE.split('/'));
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
  } catch {
    fail(`${COMPONENTIZE} is not installed in ${toolchain}: run scripts/setup.sh, or set COMPONENTIZE_JS_DIR`);
  }
  if (manifest.version !== PINNED) {
    fail(`${toolchain} has ${COMPONENTIZE} ${manifest.version}; this provider is built with ${PINNED}`);
  }
  const entry = manifest.exports?.import ?? manifest.exports?.['.']?.import ?? 'src/componentize.js';
  const { componentize } = await import(pathToFileURL(join(folder, entry)).href);
  return componentize;
}

const out = resolve(process.argv[2] ?? ROOT);
const toolchain = process.env.COMPONENTIZE_JS_DIR || DEFAULT_TOOLCHAIN;

// ComponentizeJS only says that a source does not parse, not where:
// Node's own check names the file, line and column.
for (const file of [...sources(SOURCES), ...sources(SDK).filter((path) => !path.startsWith(join(SDK, SDK_TESTS)))]) {
  const checked = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  if (checked.status !== 0) fail(`${file} is not valid JavaScript:\n${checked.stderr.trim()}`);
}

const componentize = await loadComponentize(toolchain);
const scratch = mkdtempSync(join(tmpdir(), 'kv-etcd-build-'));
const started = Date.now();
let component;
let failure;
try {
  cpSync(SOURCES, join(scratch, 'src'), { recursive: true });
  cpSync(SDK, join(scratch, 'cairn-sdk'), {
    recursive: true,
    filter: (path) => !(path === join(SDK, SDK_TESTS) || path.startsWith(join(SDK, SDK_TESTS) + '/')),
  });
  cpSync(WIT, join(scratch, 'wit'), { recursive: true });
  process.chdir(scratch);
  ({ component } = await componentize({
    sourcePath: join(scratch, ENTRY),
    witPath: join(scratch, 'wit'),
    worldName: WORLD,
    disableFeatures: DISABLED_FEATURES,
  }));
} catch (error) {
  failure = error && error.message ? error.message : String(error);
} finally {
  process.chdir(ROOT);
  rmSync(scratch, { recursive: true, force: true });
}
if (failure !== undefined) fail(failure);
mkdirSync(out, { recursive: true });
const plugin = join(out, PLUGIN);
writeFileSync(plugin, component);
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const size = (statSync(plugin).size / MIB).toFixed(1);
console.log(`built ${plugin} (${size} MiB) in ${seconds} s with ComponentizeJS ${PINNED}`);
