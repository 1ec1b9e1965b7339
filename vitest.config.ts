import { defineConfig } from 'vitest/config';

// One root run over every package's own vitest project. The JSON report lets .ci/run print a plain
// "N passed, N failed, N skipped" closing line.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
  },
});
