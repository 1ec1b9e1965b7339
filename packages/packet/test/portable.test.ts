/**
 * @ztun/packet must run in browsers: no Node built-ins, no Node globals, no runtime dependencies. This
 * checks the sources and the package manifest (the pack test checks the built files load).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('portable (browser-safe) sources', () => {
  const srcDir = join(pkgDir, 'src');
  const files = readdirSync(srcDir).filter((f) => f.endsWith('.ts'));

  it('has sources to check', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  for (const file of files) {
    it(`${file} imports only relative modules and uses no Node globals`, () => {
      const text = readFileSync(join(srcDir, file), 'utf8');
      for (const m of text.matchAll(/\bfrom\s+'([^']+)'/g))
        expect(m[1], `${file} imports ${m[1]}`).toMatch(/^\.\//);
      expect(text).not.toMatch(/\brequire\(/);
      expect(text).not.toMatch(/\bimport\(/);
      expect(text).not.toMatch(/\b(process|Buffer|__dirname|__filename|global)\s*[.[(]/);
    });
  }

  it('declares no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies ?? {}).toEqual({});
    expect(pkg.sideEffects).toBe(false);
  });
});
