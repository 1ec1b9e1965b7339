import { defineConfig } from 'tsup';
import pkg from './package.json' with { type: 'json' };

// tsup leaves dependencies and peerDependencies out of the bundle but not optionalDependencies: the OS packages
// must stay imports (resolved at run time, on their OS only), never be inlined.
const external = Object.keys(pkg.optionalDependencies);

export default defineConfig([
  {
    // The library surface (config, plan, CLI entry) for programs that embed ztun's CLI logic.
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external,
  },
  {
    // The executable: ESM with a shebang; platform modules load lazily (only this OS's native bindings).
    entry: { bin: 'src/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'es2022',
    external,
    splitting: true,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
