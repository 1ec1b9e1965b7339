// `node packages/testkit/dist/check-skips-cli.js [--report FILE] [--list FILE] [--root DIR]`: the last step
// of `pnpm test` and the closing lines of .ci/run. Exit 1 when a test failed, the list is wrong, or (on
// Linux) a test skipped without an OS gate.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatSummary,
  type OsGatedList,
  summarizeRun,
  summaryOk,
  type VitestJsonReport,
} from './skip-report.js';

function readJson<T>(what: string, path: string, hint: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`no ${what} at ${path} (${(err as NodeJS.ErrnoException).code ?? err}): ${hint}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${what} at ${path} is not JSON: ${(err as Error).message}`);
  }
}

function main(): number {
  const { values } = parseArgs({
    options: {
      report: { type: 'string', default: '.vitest/report.json' },
      list: { type: 'string', default: 'test/os-gated.json' },
      root: { type: 'string', default: '.' },
    },
  });
  const root = resolve(values.root);
  const report = readJson<VitestJsonReport>(
    'vitest JSON report',
    resolve(root, values.report),
    'did `vitest run` finish?',
  );
  const list = readJson<OsGatedList>('OS-gated list', resolve(root, values.list), 'it lists allowed skips');
  const summary = summarizeRun(report, list, { platform: process.platform, root });
  for (const line of formatSummary(summary)) console.log(line);
  return summaryOk(summary) ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  console.log(`skip check: ${(err as Error).message}`);
  process.exitCode = 1;
}
