import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'routing-linux', include: ['test/**/*.test.ts'] },
});
