import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'routing-darwin', include: ['test/**/*.test.ts'] },
});
