// `node packages/testkit/dist/check-skips-cli.js [--report FILE] [--wine-report FILE] [--list FILE] [--root DIR]`:
// the last step of `pnpm test` and the closing lines of .ci/run. Exit 1 when a test failed, the list is wrong,
// or (on Linux, and in the Wine report) a test skipped without an OS gate. --wine-report adds CI's Wine step
// (scripts/ci/wine-tests.sh: tun-windows on Windows Node under Wine), checked as platform "wine", to the counts.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatSummary,
  mergeSummaries,
  type OsGatedList,
  type RunSummary,
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

const EMPTY: RunSummary = {
  passed: 0,
  failed: 0,
  skipped: [],
  unexpected: [],
  problems: [],
  enforced: true,
  platform: 'wine',
};

function main(): number {
  const { values } = parseArgs({
    options: {
      report: { type: 'string', default: '.vitest/report.json' },
      'wine-report': { type: 'string' },
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
  const runs = [{ label: '', summary: summarizeRun(report, list, { platform: process.platform, root }) }];
  const winePath = values['wine-report'];
  if (winePath !== undefined) {
    let wine: VitestJsonReport | undefined;
    try {
      wine = readJson<VitestJsonReport>(
        'Wine step vitest JSON report',
        resolve(root, winePath),
        'did scripts/ci/wine-tests.sh run to the end?',
      );
    } catch (err) {
      // Still print the counts of the run that did report: the Wine step's absence is a problem line.
      runs.push({ label: 'wine', summary: { ...EMPTY, problems: [(err as Error).message] } });
    }
    if (wine) {
      const summary = summarizeRun(wine, list, { platform: 'wine', root });
      console.log(
        `Wine step (tun-windows on Windows Node under Wine): passed ${summary.passed}, failed ${summary.failed}, skipped ${summary.skipped.length}; included in the totals below`,
      );
      runs.push({ label: 'wine', summary });
    }
  }
  const summary = runs.length === 1 ? runs[0]!.summary : mergeSummaries(runs);
  for (const line of formatSummary(summary)) console.log(line);
  return summaryOk(summary) ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  console.log(`skip check: ${(err as Error).message}`);
  process.exitCode = 1;
}
