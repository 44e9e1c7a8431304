// Builds hostile.js into hostile_js.wasm, a component of the world
// `hostile-plugin` (wit/hostile.wit: the provider world of
// cairn:provider@0.2.0 plus the WASI interfaces the attacker tries).
//
//   node build.mjs [OUT_DIR]      # OUT_DIR defaults to the current folder
//
// COMPONENTIZE_JS_DIR names the folder whose node_modules holds
// @bytecodealliance/componentize-js 0.23 (default
// /var/tmp/cairn-componentize-js).
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? '.');
const toolchain = process.env.COMPONENTIZE_JS_DIR ?? '/var/tmp/cairn-componentize-js';

const packageDir = join(toolchain, 'node_modules', '@bytecodealliance', 'componentize-js');
const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'));
const entry = manifest.exports?.import ?? manifest.exports?.['.']?.import ?? 'src/componentize.js';
const { componentize, version } = await import(pathToFileURL(join(packageDir, entry)).href);

// 'fetch-event' (wasi:http/incoming-handler) is never wanted in a provider;
// stdio stays, so that a crash shows its message.
const disableFeatures = ['fetch-event'];

const started = Date.now();
const { component } = await componentize({
  sourcePath: join(here, 'hostile.js'),
  witPath: join(here, 'wit'),
  worldName: 'hostile-plugin',
  disableFeatures,
});
await mkdir(outDir, { recursive: true });
const out = join(outDir, 'hostile_js.wasm');
await writeFile(out, component);
console.log(
  `ComponentizeJS ${version}: ${out}, ${component.length} bytes, ${Date.now() - started} ms`,
);
