// The stack is OS-free (issue 12): socket options come from an injected StackSockets, so it needs no FFI and
// never asks which OS it runs on. This holds the package to that.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('@ztun/stack is OS-free', () => {
  it('declares no koffi (nor any other FFI) among its dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const runtime = { ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies };
    expect(Object.keys(runtime).filter((n) => /koffi|ffi/.test(n))).toEqual([]);
  });

  it('has no process.platform branch, koffi import or OS-named file in its source', () => {
    const src = join(root, 'src');
    const offenders: string[] = [];
    for (const file of readdirSync(src, { recursive: true }) as string[]) {
      if (!file.endsWith('.ts')) continue;
      if (/\.(linux|darwin|win32|windows)\.ts$/.test(file)) offenders.push(`${file}: OS-named file`);
      const text = readFileSync(join(src, file), 'utf8');
      if (text.includes('process.platform')) offenders.push(`${file}: process.platform`);
      if (/from ['"]koffi['"]|import\(['"]koffi['"]\)/.test(text)) offenders.push(`${file}: koffi`);
    }
    expect(offenders).toEqual([]);
  });
});
