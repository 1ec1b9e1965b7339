// `pnpm build`: compiles the addon into build/Release (where the loader looks first) with the running Node's
// headers passed explicitly. An incremental `build` when configured, else a full `rebuild`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypArgs } from './node-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const gyp = (command) =>
  spawnSync(process.execPath, nodeGypArgs(root, command), { cwd: root, stdio: 'inherit' });

const configured = existsSync(join(root, 'build', 'config.gypi'));
if (!(configured && gyp('build').status === 0) && gyp('rebuild').status !== 0) {
  console.error('tun-linux: node-gyp rebuild failed (needs python3, make and g++)');
  process.exit(1);
}
