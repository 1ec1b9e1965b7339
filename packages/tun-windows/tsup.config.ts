import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // dll.ts finds the package folder via import.meta.url (ESM) or __dirname (CJS)
  shims: true,
  target: 'es2022',
});
