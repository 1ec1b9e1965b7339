import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/check-skips-cli.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
