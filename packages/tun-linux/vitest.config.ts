import { defineProject } from 'vitest/config';

export default defineProject({
  // Namespace tests run real pings; give them room when CI runs every project at once on two cores.
  test: { name: 'tun-linux', include: ['test/**/*.test.ts'], testTimeout: 20_000, hookTimeout: 20_000 },
});
