import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

// Benchmarks (printed figures, not assertions): `pnpm bench` in this package.
export default defineProject({
  test: {
    name: 'stack-bench',
    root: join(dirname(fileURLToPath(import.meta.url)), '..'),
    include: ['bench/**/*.bench.ts'],
    testTimeout: 600_000,
  },
});
