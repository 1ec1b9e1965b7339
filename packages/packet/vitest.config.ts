import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'packet', include: ['test/**/*.test.ts'] },
});
