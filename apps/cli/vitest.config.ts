import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'ztun',
    include: ['test/**/*.test.ts'],
    // The namespace tests start the CLI as a child process and wait for routes to come and go.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
