import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  formatSummary,
  type OsGatedList,
  summarizeRun,
  summaryOk,
  type VitestJsonReport,
} from '../src/skip-report.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const ROOT = '/repo';

type Test = VitestJsonReport['testResults'][number]['assertionResults'][number];
const test = (titles: string[], status: string, skipReason?: string): Test => ({
  ancestorTitles: titles.slice(0, -1),
  title: titles.at(-1)!,
  status,
  meta: skipReason ? { skipReason } : {},
});
const file = (path: string, tests: Test[], status = 'passed', message = '') => ({
  name: `${ROOT}/${path}`,
  status,
  message,
  assertionResults: tests,
});

const LIST: OsGatedList = {
  gates: { 'macOS-only': 'darwin', 'Windows-only': 'win32' },
  tests: [
    { file: 'packages/mac/test/a.test.ts', name: 'real mac', gate: 'macOS-only' },
    { file: 'packages/win/test/b.test.ts', name: 'on Windows', gate: 'Windows-only' },
  ],
};

/** What a run on a fully provisioned Linux machine reports: only the OS-gated tests skip. */
const cleanRun = (): VitestJsonReport => ({
  testResults: [
    file('packages/mac/test/a.test.ts', [
      test(['off mac', 'refuses'], 'passed'),
      test(['real mac', 'opens'], 'skipped', 'needs macOS (this is linux)'),
      test(['real mac', 'inner', 'closes'], 'skipped', 'needs macOS (this is linux)'),
    ]),
    file('packages/win/test/b.test.ts', [test(['on Windows', 'device'], 'skipped', 'needs Windows')]),
    file('packages/net/test/c.test.ts', [test(['netns', 'routes'], 'passed')]),
  ],
});

const linux = { platform: 'linux', root: ROOT };

describe('summarizeRun', () => {
  it('passes when only OS-gated tests skip on Linux, and counts them by gate and reason', () => {
    const s = summarizeRun(cleanRun(), LIST, linux);
    expect(summaryOk(s)).toBe(true);
    expect(s.unexpected).toEqual([]);
    expect(formatSummary(s)).toEqual([
      'skipped: 3 (macOS-only 2, Windows-only 1)',
      '  macOS-only 2: needs macOS (this is linux)',
      '  Windows-only 1: needs Windows',
      '2 passed, 0 failed, 3 skipped',
    ]);
  });

  it('fails on Linux when a test skips for any other reason, naming the reason and a test', () => {
    const report = cleanRun();
    report.testResults[2]!.assertionResults.push(
      test(['netns', 'tcp'], 'skipped', 'namespace tests need root'),
      test(['netns', 'udp'], 'skipped', 'namespace tests need root'),
    );
    const s = summarizeRun(report, LIST, linux);
    expect(summaryOk(s)).toBe(false);
    expect(s.unexpected.map((u) => u.id)).toEqual([
      'packages/net/test/c.test.ts > netns > tcp',
      'packages/net/test/c.test.ts > netns > udp',
    ]);
    const lines = formatSummary(s);
    expect(lines).toContain('skipped: 5 (macOS-only 2, Windows-only 1, unexpected 2)');
    expect(lines).toContain(
      '  unexpected 2: namespace tests need root — e.g. packages/net/test/c.test.ts > netns > tcp',
    );
    expect(lines.at(-2)).toMatch(/^skip check FAILED: 2 test\(s\) skipped on Linux without an OS gate/);
    expect(lines.at(-1)).toBe('2 passed, 0 failed, 5 skipped');
  });

  it('a skip without a recorded reason, a todo and a test that never finished are unexpected too', () => {
    const report = cleanRun();
    report.testResults[2]!.assertionResults.push(
      test(['netns', 'plain'], 'skipped'),
      test(['netns', 'later'], 'todo'),
      test(['netns', 'hung'], 'pending'),
    );
    const s = summarizeRun(report, LIST, linux);
    expect(summaryOk(s)).toBe(false);
    expect(s.unexpected.map((u) => u.reason)).toEqual([
      'no reason recorded (skip through skipWhen/skipUnless/skipNow from @ztun/testkit)',
      'marked todo',
      'never finished (pending in the report)',
    ]);
  });

  it('an OS gate only covers the OSes it names: a macOS-only test skipping on macOS is not gated there', () => {
    const s = summarizeRun(cleanRun(), LIST, { platform: 'darwin', root: ROOT });
    expect(s.enforced).toBe(false); // the list is enforced on Linux, where every other test runs
    expect(s.unexpected.map((u) => u.id)).toEqual([
      'packages/mac/test/a.test.ts > real mac > opens',
      'packages/mac/test/a.test.ts > real mac > inner > closes',
    ]);
    expect(formatSummary(s)[0]).toBe('skipped: 3 (not OS-gated 2, Windows-only 1)');
    expect(summaryOk(s)).toBe(true);
  });

  it('a gate matches whole titles only: "real mac" does not cover "real machine"', () => {
    const report = cleanRun();
    report.testResults[0]!.assertionResults.push(test(['real machine', 'x'], 'skipped', 'why'));
    expect(summarizeRun(report, LIST, linux).unexpected.map((u) => u.id)).toEqual([
      'packages/mac/test/a.test.ts > real machine > x',
    ]);
  });

  it('fails on a list entry whose file ran but matched no test, and on an unknown gate', () => {
    const stale: OsGatedList = {
      ...LIST,
      tests: [
        ...LIST.tests,
        { file: 'packages/mac/test/a.test.ts', name: 'renamed away', gate: 'macOS-only' },
      ],
    };
    const s = summarizeRun(cleanRun(), stale, linux);
    expect(summaryOk(s)).toBe(false);
    expect(s.problems).toEqual([
      'os-gated list: packages/mac/test/a.test.ts > renamed away matches no test in the report (renamed or removed?)',
    ]);
    // A partial run (only some files) does not make the entries of the files it did not run stale.
    const partial = { testResults: cleanRun().testResults.slice(2) };
    expect(summarizeRun(partial, stale, linux).problems).toEqual([]);
    const unknown: OsGatedList = { ...LIST, tests: [{ file: 'x.test.ts', name: 'y', gate: 'BeOS-only' }] };
    expect(summarizeRun(cleanRun(), unknown, linux).problems).toEqual([
      'os-gated list: x.test.ts > y: unknown gate "BeOS-only"',
    ]);
  });

  it('counts a test file that failed to load as a failure', () => {
    const report = cleanRun();
    report.testResults.push(
      file('packages/x/test/broken.test.ts', [], 'failed', 'Cannot find module "y"\nstack'),
    );
    const s = summarizeRun(report, LIST, linux);
    expect(s.failed).toBe(1);
    expect(summaryOk(s)).toBe(false);
    expect(formatSummary(s)[0]).toBe('packages/x/test/broken.test.ts failed: Cannot find module "y"');
  });
});

describe('the repository list', () => {
  it('test/os-gated.json is well-formed and names existing files', () => {
    const list = JSON.parse(readFileSync(join(repoRoot, 'test', 'os-gated.json'), 'utf8')) as OsGatedList;
    const s = summarizeRun({ testResults: [] }, { ...list, tests: [] }, linux);
    expect(s.problems).toEqual([]);
    for (const entry of list.tests) {
      expect(Object.keys(list.gates)).toContain(entry.gate);
      expect(existsSync(join(repoRoot, entry.file)), entry.file).toBe(true);
    }
  });
});

describe('end to end: a real vitest JSON report, then the CLI', () => {
  it('records every skip reason in the report, and the CLI fails the run on the unexpected ones', {
    timeout: 120_000,
  }, () => {
    const fixtureDir = join(here, 'fixtures', 'skips');
    const work = mkdtempSync(join(tmpdir(), 'ztun-skips-'));
    try {
      const vitest = join(
        dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
        'vitest.mjs',
      );
      const reportPath = join(work, 'report.json');
      const run = spawnSync(
        process.execPath,
        [vitest, 'run', '--root', fixtureDir, '--reporter=json', `--outputFile=${reportPath}`],
        { encoding: 'utf8', env: { ...process.env, VITEST: undefined, VITEST_POOL_ID: undefined } },
      );
      expect(existsSync(reportPath), `nested vitest wrote no report: ${run.stderr}`).toBe(true);
      const report = JSON.parse(readFileSync(reportPath, 'utf8')) as VitestJsonReport;
      const byTitle = Object.fromEntries(
        report.testResults[0]!.assertionResults.map((t) => [t.title, [t.status, t.meta?.skipReason]]),
      );
      expect(byTitle).toEqual({
        a: ['skipped', 'needs another OS'], // a suite's reason reaches each of its tests
        b: ['skipped', 'needs another OS'],
        passes: ['passed', undefined],
        'missing tool': ['skipped', 'needs sometool'],
        'runs when it can': ['passed', undefined],
        'found out at run time': ['skipped', 'no device here'],
        'plain skip': ['skipped', undefined],
        later: ['todo', undefined],
      });

      const list: OsGatedList = {
        gates: { 'macOS-only': 'darwin' },
        tests: [{ file: 'sample.fixture.ts', name: 'gated suite', gate: 'macOS-only' }],
      };
      const listPath = join(work, 'os-gated.json');
      writeFileSync(listPath, JSON.stringify(list));
      const cli = join(here, '..', 'dist', 'check-skips-cli.js');
      expect(existsSync(cli), `${cli} is missing: build @ztun/testkit first`).toBe(true);
      const check = spawnSync(
        process.execPath,
        [cli, '--report', reportPath, '--list', listPath, '--root', fixtureDir],
        { encoding: 'utf8' },
      );
      const lines = check.stdout.trim().split('\n');
      if (process.platform === 'linux') {
        expect(check.status, check.stdout).toBe(1);
        expect(lines).toContain('skipped: 6 (macOS-only 2, unexpected 4)');
        expect(lines).toContain(
          '  unexpected 1: needs sometool — e.g. sample.fixture.ts > runs here > missing tool',
        );
        expect(lines).toContain(
          '  unexpected 1: no device here — e.g. sample.fixture.ts > runs here > found out at run time',
        );
      }
      expect(lines.at(-1)).toBe('2 passed, 0 failed, 6 skipped');

      // Missing report: one clear line, exit 1.
      const missing = spawnSync(
        process.execPath,
        [cli, '--report', join(work, 'nope.json'), '--list', listPath],
        {
          encoding: 'utf8',
        },
      );
      expect(missing.status).toBe(1);
      expect(missing.stdout.trim()).toMatch(/^skip check: no vitest JSON report at .*nope\.json \(ENOENT\)/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
