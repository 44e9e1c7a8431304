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
import { fileURLToPath, pathToFileURL } from 'node:url';

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

/**
 * The ComponentizeJS release whose string lowering `lowerStringsNatively`
 * replaces, and the function it replaces in the bindings it generates.
 */
const LOWERING_OF = '0.23.0';
const LOWERING = 'function _utf8AllocateAndEncode(s, realloc, memory) {';

/**
 * The string lowering the bindings use instead: the same allocation of
 * the exact length and the same bytes, a lone surrogate written as U+FFFD
 * as before, with the length from the engine's own UTF-8 encoder.
 */
const NATIVE_LOWERING = `${LOWERING}
  if (typeof s !== 'string') {
    throw new TypeError('expected a string, received [' + typeof s + ']');
  }
  if (s.length === 0) { return { ptr: 1, len: 0 }; }
  const bytes = TEXT_ENCODER_UTF8.encode(s);
  const len = bytes.length;
  const ptr = realloc(0, 0, 1, len);
  new Uint8Array(memory.buffer, ptr, len).set(bytes);
  return { ptr, len };
}
`;

/**
 * Makes the component's bindings write every string they hand the host
 * (each canonical spec, state and change of a call) without a loop of
 * JavaScript over its characters.
 *
 * The bindings ComponentizeJS 0.23.0 generates size a string's UTF-8
 * form by walking it character by character in JavaScript, and the
 * component runs JavaScript in an interpreter: for a plan of unchanged
 * resources, where each change of `diff` carries some 90 characters and
 * each observed state of `list` some 50, that walk is about a quarter of
 * the provider's time. The engine's TextEncoder makes the same bytes
 * natively. Only that release's function is replaced, and only when it
 * reads as expected; otherwise the bindings are left as they are.
 */
async function lowerStringsNatively() {
  if (installedVersion() !== LOWERING_OF) return;
  let splicer;
  try {
    const module = join(ROOT, 'node_modules', ...COMPONENTIZE.split('/'), 'lib', 'spidermonkey-embedding-splicer.js');
    ({ splicer } = await import(pathToFileURL(module).href));
  } catch {
    return;
  }
  const splice = splicer.spliceBindings;
  splicer.spliceBindings = (...args) => {
    const spliced = splice(...args);
    const start = spliced.jsBindings.indexOf(LOWERING);
    const end = spliced.jsBindings.indexOf('\n}\n', start);
    const original = start < 0 || end < 0 ? '' : spliced.jsBindings.slice(start, end + 3);
    if (original.includes('codepoints++') && original.includes('encodeInto(')) {
      spliced.jsBindings = spliced.jsBindings.slice(0, start) + NATIVE_LOWERING + spliced.jsBindings.slice(end + 3);
    }
    return spliced;
  };
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
await lowerStringsNatively();
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
