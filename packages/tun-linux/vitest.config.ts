import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'tun-linux', include: ['test/**/*.test.ts'] },
});
