// Runs the unit tests of the modules that need no host (`src/bytes.js`,
// `src/types.js`) under plain Node:
//
//     node test.mjs
//
// The sources import the SDK as `../cairn-sdk/`, as in the component: the
// sources, the tests and the SDK (`sdk-js/` of this repository) are copied
// into a scratch folder, as the build does, and the tests run there.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This folder: the provider's root. */
const ROOT = dirname(fileURLToPath(import.meta.url));
/** The SDK layer, copied as `cairn-sdk/`. */
const SDK = resolve(ROOT, '..', '..', 'sdk-js');

const scratch = mkdtempSync(join(tmpdir(), 'kv-etcd-test-'));
let status = 1;
try {
  cpSync(join(ROOT, 'src'), join(scratch, 'src'), { recursive: true });
  cpSync(join(ROOT, 'test'), join(scratch, 'test'), { recursive: true });
  cpSync(SDK, join(scratch, 'cairn-sdk'), { recursive: true });
  status = spawnSync(process.execPath, ['--test', join(scratch, 'test')], { stdio: 'inherit' }).status ?? 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(status);
