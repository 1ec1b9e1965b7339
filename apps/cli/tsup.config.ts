import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library surface (config, plan, CLI entry) for programs that embed ztun's CLI logic.
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
  },
  {
    // The executable: ESM with a shebang; platform modules load lazily (only this OS's native bindings).
    entry: { bin: 'src/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'es2022',
    splitting: true,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
