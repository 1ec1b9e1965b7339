// Runs the stack benchmarks (namespaces, iperf3, danted): figures are printed, nothing is asserted.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const r = spawnSync(
  'npx',
  ['vitest', 'run', '--config', join(here, 'vitest.config.ts'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    cwd: join(here, '..'),
  },
);
process.exit(r.status ?? 1);
