// `ztun run` keeps V8's young generation at its initial size (src/young-generation.ts, issue 17 item 2): after
// a burst of allocation whose survivors would grow it (to 16 MB per semi-space by default), new_space is
// still small. Each case in a fresh process (the heap and the flag are process-wide), running the module's
// own source (transpiled by TypeScript).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ztun-young-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const source = readFileSync(fileURLToPath(new URL('../src/young-generation.ts', import.meta.url)), 'utf8');
writeFileSync(
  join(dir, 'young-generation.mjs'),
  ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText,
);
writeFileSync(
  join(dir, 'burst.mjs'),
  `import v8 from 'node:v8';
import { keepYoungGenerationSmall } from './young-generation.mjs';
if (process.argv[2] === 'keep') keepYoungGenerationSmall();
let window = [];
for (let i = 0; i < 3_000_000; i++) {
  window.push({ i, s: 'x' + i });
  if (window.length > 200_000) window = [];
}
console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
`,
);

function newSpaceAfterBurst(keep: boolean): number {
  const r = spawnSync(process.execPath, [join(dir, 'burst.mjs'), keep ? 'keep' : ''], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return Number(r.stdout.trim());
}

describe('keepYoungGenerationSmall', () => {
  it('keeps new_space small through an allocation burst that grows it by default', () => {
    const MB = 1 << 20;
    expect(newSpaceAfterBurst(false)).toBeGreaterThan(8 * MB); // what it guards against
    expect(newSpaceAfterBurst(true)).toBeLessThanOrEqual(4 * MB);
  });
});
