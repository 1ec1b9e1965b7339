import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'tun-windows', include: ['test/**/*.test.ts'] },
});
