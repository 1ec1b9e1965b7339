// The Wine step's report (tun-windows on Windows Node under Wine, scripts/ci/wine-tests.sh) is checked as
// platform "wine": a win32 for the gates, enforced like Linux, merged into CI's closing counts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  formatSummary,
  gateRunsOn,
  mergeSummaries,
  type OsGatedList,
  summarizeRun,
  summaryOk,
  type VitestJsonReport,
} from '../src/skip-report.js';

const ROOT = '/repo';
const F = 'packages/win/test/w.test.ts';
type Test = VitestJsonReport['testResults'][number]['assertionResults'][number];
const test = (titles: string[], status: string, skipReason?: string): Test => ({
  ancestorTitles: titles.slice(0, -1),
  title: titles.at(-1)!,
  status,
  meta: skipReason ? { skipReason } : {},
});
const report = (tests: Test[]): VitestJsonReport => ({
  testResults: [{ name: `${ROOT}/${F}`, status: 'passed', assertionResults: tests }],
});

const LIST: OsGatedList = {
  gates: { 'Windows-only': 'win32', 'off-Windows': '!win32', 'not-under-Wine': '!wine' },
  tests: [
    { file: F, name: 'on Windows', gate: 'Windows-only' },
    { file: F, name: 'on Windows > device', gate: 'not-under-Wine' },
    { file: F, name: 'elsewhere', gate: 'off-Windows' },
  ],
};

describe('gates for the Wine step', () => {
  it('"wine" is a win32; "!x" is everywhere but x', () => {
    expect(gateRunsOn('win32', 'wine')).toBe(true);
    expect(gateRunsOn('!win32', 'wine')).toBe(false);
    expect(gateRunsOn('!wine', 'wine')).toBe(false);
    expect(gateRunsOn('!wine', 'linux')).toBe(true);
    expect(gateRunsOn('!wine', 'win32')).toBe(true);
    expect(gateRunsOn('wine', 'win32')).toBe(false);
  });

  it('under Wine only the Wine-gated and off-Windows tests may skip; the rest of the Windows suite must run', () => {
    const wine = report([
      test(['on Windows', 'reads routes'], 'passed'),
      test(['on Windows', 'device', 'opens'], 'skipped', 'Wine has no Wintun driver'),
      test(['elsewhere', 'refuses'], 'skipped', 'off Windows only'),
    ]);
    const ok = summarizeRun(wine, LIST, { platform: 'wine', root: ROOT });
    expect(ok.enforced).toBe(true);
    expect(summaryOk(ok)).toBe(true);
    expect(ok.skipped.map((s) => s.gate)).toEqual(['not-under-Wine', 'off-Windows']);

    wine.testResults[0]!.assertionResults[0] = test(['on Windows', 'reads routes'], 'skipped', 'why');
    const bad = summarizeRun(wine, LIST, { platform: 'wine', root: ROOT });
    expect(summaryOk(bad)).toBe(false);
    expect(bad.unexpected.map((u) => u.id)).toEqual([`${F} > on Windows > reads routes`]);
    expect(formatSummary(bad).at(-2)).toMatch(
      /^skip check FAILED: 1 test\(s\) skipped on Windows Node under Wine without an OS gate/,
    );
  });

  it('a Wine gate never excuses a skip on Linux (outside a Windows-only suite)', () => {
    const linux = report([
      test(['on Windows', 'device', 'opens'], 'skipped', 'needs Windows'),
      test(['elsewhere', 'refuses'], 'skipped', 'no reason to'),
    ]);
    const s = summarizeRun(linux, LIST, { platform: 'linux', root: ROOT });
    expect(s.skipped.map((x) => x.gate)).toEqual(['Windows-only', undefined]);
    expect(summaryOk(s)).toBe(false);
  });

  it('a gate that names linux, negated or not, is a list problem', () => {
    const list: OsGatedList = { gates: { x: '!linux' }, tests: [] };
    expect(summarizeRun(report([]), list, { platform: 'linux', root: ROOT }).problems).toEqual([
      'os-gated list: gate "x" names linux, where every test runs',
    ]);
  });

  it('merges the Linux and Wine runs into one closing line, failures and unexpected skips of both', () => {
    const linux = summarizeRun(report([test(['on Windows', 'x'], 'skipped', 'needs Windows')]), LIST, {
      platform: 'linux',
      root: ROOT,
    });
    const wine = summarizeRun(
      report([test(['on Windows', 'x'], 'passed'), test(['on Windows', 'y'], 'failed')]),
      LIST,
      { platform: 'wine', root: ROOT },
    );
    const merged = mergeSummaries([
      { label: '', summary: linux },
      { label: 'wine', summary: wine },
    ]);
    expect([merged.passed, merged.failed, merged.skipped.length]).toEqual([1, 1, 1]);
    expect(summaryOk(merged)).toBe(false);
    expect(formatSummary(merged).at(-1)).toBe('1 passed, 1 failed, 1 skipped');
    const skippedUnderWine = summarizeRun(report([test(['on Windows', 'x'], 'skipped', 'r')]), LIST, {
      platform: 'wine',
      root: ROOT,
    });
    const both = mergeSummaries([
      { label: '', summary: linux },
      { label: 'wine', summary: skippedUnderWine },
    ]);
    expect(both.unexpected.map((u) => u.id)).toEqual([`[wine] ${F} > on Windows > x`]);
  });
});

describe('check-skips-cli --wine-report', () => {
  it('a missing Wine report fails the check with one line, and the closing line still counts the rest', () => {
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'check-skips-cli.js');
    expect(existsSync(cli), `${cli} is missing: build @ztun/testkit first`).toBe(true);
    const work = mkdtempSync(join(tmpdir(), 'ztun-wine-skips-'));
    try {
      writeFileSync(join(work, 'report.json'), JSON.stringify(report([test(['a', 'b'], 'passed')])));
      writeFileSync(join(work, 'list.json'), JSON.stringify({ gates: {}, tests: [] }));
      const r = spawnSync(
        process.execPath,
        [cli, '--root', work, '--report', 'report.json', '--list', 'list.json', '--wine-report', 'nope.json'],
        { encoding: 'utf8' },
      );
      const lines = r.stdout.trim().split('\n');
      expect(r.status).toBe(1);
      expect(lines[0]).toMatch(/^\[wine\] no Wine step vitest JSON report at .*nope\.json \(ENOENT\)/);
      expect(lines.at(-1)).toBe('1 passed, 0 failed, 0 skipped');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
