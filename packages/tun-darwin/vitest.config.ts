import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'tun-darwin', include: ['test/**/*.test.ts'] },
});
