import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'undefined', include: ['test/**/*.test.ts'] },
});
