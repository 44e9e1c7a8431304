// Builds src/provider.js into {{plugin}}: a WebAssembly component of the
// world `provider-plugin` of cairn:provider@{{contract}} (the WIT in wit/),
// made by ComponentizeJS. One command, from a fresh folder too:
//
//     npm run build
//
// It installs the pinned ComponentizeJS first when node_modules/ lacks it.

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This folder: the provider's root. */
const ROOT = dirname(fileURLToPath(import.meta.url));
/** The provider's module; it imports the SDK from ../cairn-sdk/. */
const SOURCE = 'src/provider.js';
/** The contract's WIT, with the WASI packages it imports under wit/deps/. */
const WIT = 'wit';
/** The world a provider component targets. */
const WORLD = 'provider-plugin';
/** The plugin the build writes, which cairn-test.toml and cairn.toml load. */
const PLUGIN = '{{plugin}}';
/** The package that builds the component, pinned in package.json. */
const COMPONENTIZE = '@bytecodealliance/componentize-js';
/**
 * Engine features left out: `fetch-event` serves HTTP, which a provider
 * never does, and `http` is `fetch()`, which the SDK does not use (it
 * speaks wasi:http itself, so that an error keeps its kind). `stdio`
 * stays: without it a crash shows no message.
 */
const DISABLED_FEATURES = ['fetch-event', 'http'];
/** Bytes in a mebibyte, for the size printed. */
const MIB = 1024 * 1024;

// ComponentizeJS shows the component the folder it runs in as `/` while it
// initialises: run in this folder, so that src/ and cairn-sdk/ are inside.
process.chdir(ROOT);

/** The version of ComponentizeJS in node_modules/, if any. */
function installedVersion() {
  try {
    const manifest = join('node_modules', ...COMPONENTIZE.split('/'), 'package.json');
    return JSON.parse(readFileSync(manifest, 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** The JavaScript files under `folders`, recursively. */
function sources(folders) {
  return folders.flatMap((folder) =>
    readdirSync(folder, { recursive: true })
      .map((name) => join(folder, String(name)))
      .filter((path) => /\.m?js$/.test(path) && statSync(path).isFile()),
  );
}

const pinned = JSON.parse(readFileSync('package.json', 'utf8')).devDependencies[COMPONENTIZE];
if (installedVersion() !== pinned) {
  console.log(`installing ${COMPONENTIZE} ${pinned} (once)…`);
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (npm.status !== 0 || installedVersion() !== pinned) {
    console.error(`build failed: \`npm install\` did not install ${COMPONENTIZE} ${pinned}`);
    process.exit(1);
  }
}

// ComponentizeJS only says that a source does not parse, not where:
// Node's own check names the file, line and column.
for (const file of sources(['src', 'cairn-sdk'])) {
  const checked = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  if (checked.status !== 0) {
    console.error(`build failed: ${file} is not valid JavaScript:\n${checked.stderr.trim()}`);
    process.exit(1);
  }
}

const { componentize } = await import(COMPONENTIZE);
const started = Date.now();
let component;
try {
  ({ component } = await componentize({
    sourcePath: join(ROOT, SOURCE),
    witPath: join(ROOT, WIT),
    worldName: WORLD,
    disableFeatures: DISABLED_FEATURES,
  }));
} catch (error) {
  console.error(`build failed: ${error && error.message ? error.message : error}`);
  process.exit(1);
}
writeFileSync(PLUGIN, component);
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const size = (statSync(PLUGIN).size / MIB).toFixed(1);
console.log(`built ${join(ROOT, PLUGIN)} (${size} MiB) in ${seconds} s with ComponentizeJS ${pinned}`);
