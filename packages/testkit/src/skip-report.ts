import { relative, sep } from 'node:path';
import { SKIP_REASON_KEY } from './skip.js';

// Reads vitest's JSON report and decides whether the run's skips are allowed: on Linux (the platform every
// test can run on) only tests named in the OS-gated list (test/os-gated.json) may skip; any other skip — a
// missing tool, not root — fails the run with its reason. Off Linux the same breakdown is printed, not enforced.
// CI's Wine step (scripts/ci/wine-tests.sh) is checked as platform "wine": Windows Node under Wine, which counts
// as win32 for the gates and is enforced like Linux, so only skips gated for Wine pass there.

/** The fields of vitest's JSON report (reporters/json) this check reads. */
export interface VitestJsonReport {
  testResults: Array<{
    name: string;
    status: string;
    message?: string;
    assertionResults: Array<{
      ancestorTitles: string[];
      title: string;
      status: string;
      meta?: Record<string, unknown>;
    }>;
  }>;
}

/** test/os-gated.json: the only tests allowed to skip on Linux, each naming the OS it needs. */
export interface OsGatedList {
  /**
   * Gate name (e.g. "macOS-only") → where the gated tests run: a `process.platform`, or "wine" (CI's Windows
   * Node under Wine, which also counts as "win32"); "!x" means everywhere but x. A test may skip where its
   * gate says it does not run.
   */
  gates: Record<string, string>;
  /** `name` is a suite or test title path joined by " > "; it covers every test at or under it. */
  tests: Array<{ file: string; name: string; gate: string }>;
}

export interface SkippedTest {
  /** `file > suite > test`, file relative to the repository root. */
  readonly id: string;
  readonly reason: string;
  /** The declared gate when the skip is allowed here, else undefined. */
  readonly gate: string | undefined;
}

export interface RunSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: readonly SkippedTest[];
  /** Skips not covered by an OS gate whose platform differs from this one. */
  readonly unexpected: readonly SkippedTest[];
  /** Problems with the list itself (unknown gate, an entry matching no test) and files that failed to load. */
  readonly problems: readonly string[];
  /** True when this platform enforces the list (Linux, and CI's Wine step). */
  readonly enforced: boolean;
  /** The platform the run was checked as. */
  readonly platform: string;
}

const NO_REASON = `no reason recorded (skip through skipWhen/skipUnless/skipNow from @ztun/testkit)`;

function reasonOf(status: string, meta: Record<string, unknown> | undefined): string {
  const reason = meta?.[SKIP_REASON_KEY];
  if (typeof reason === 'string' && reason.length > 0) return reason;
  if (status === 'todo') return 'marked todo';
  if (status === 'pending') return 'never finished (pending in the report)';
  return NO_REASON;
}

/** Platforms whose runs enforce the list: every test runs there unless a gate says otherwise. */
const ENFORCED = new Set(['linux', 'wine']);

/** Whether tests gated by `spec` run on `platform` ("wine" is a win32). */
export function gateRunsOn(spec: string, platform: string): boolean {
  if (spec.startsWith('!')) return !gateRunsOn(spec.slice(1), platform);
  return spec === platform || (platform === 'wine' && spec === 'win32');
}

/** Checks a list's own shape; returns one line per problem. */
export function checkOsGatedList(list: OsGatedList): string[] {
  const problems: string[] = [];
  if (
    typeof list !== 'object' ||
    list === null ||
    typeof list.gates !== 'object' ||
    !Array.isArray(list.tests)
  )
    return ['os-gated list: expected { "gates": {…}, "tests": [ … ] }'];
  for (const [gate, platform] of Object.entries(list.gates)) {
    if (typeof platform !== 'string' || platform.replace(/^!/, '') === 'linux')
      problems.push(`os-gated list: gate "${gate}" names linux, where every test runs`);
  }
  for (const entry of list.tests) {
    if (!entry || typeof entry.file !== 'string' || typeof entry.name !== 'string' || !entry.name)
      problems.push(`os-gated list: entry ${JSON.stringify(entry)} needs "file", "name" and "gate"`);
    else if (!Object.hasOwn(list.gates, entry.gate))
      problems.push(`os-gated list: ${entry.file} > ${entry.name}: unknown gate "${entry.gate}"`);
  }
  return problems;
}

/** Summarises `report` against `list` for `platform`; `root` is the directory test file paths are relative to. */
export function summarizeRun(
  report: VitestJsonReport,
  list: OsGatedList,
  options: { platform: string; root: string },
): RunSummary {
  const problems = checkOsGatedList(list);
  const entries = problems.length === 0 ? list.tests : [];
  const used = new Set<number>();
  const ranFiles = new Set<string>();
  const skipped: SkippedTest[] = [];
  let passed = 0;
  let failed = 0;
  for (const file of report.testResults) {
    const path = relative(options.root, file.name).split(sep).join('/');
    ranFiles.add(path);
    let fileFailures = 0;
    for (const test of file.assertionResults) {
      const titles = [...test.ancestorTitles, test.title].filter((t) => t.length > 0);
      const titlePath = titles.join(' > ');
      // Every entry covering the test counts (a suite's gate and a narrower one inside it); the skip is
      // allowed when one of their gates says the test does not run here.
      const covering: number[] = [];
      entries.forEach((e, i) => {
        if (e.file === path && (titlePath === e.name || titlePath.startsWith(`${e.name} > `)))
          covering.push(i);
      });
      for (const i of covering) used.add(i);
      if (test.status === 'passed') passed++;
      else if (test.status === 'failed') fileFailures++;
      else {
        const gate = covering
          .map((i) => entries[i]!.gate)
          .find((g) => !gateRunsOn(list.gates[g]!, options.platform));
        skipped.push({
          id: [path, ...titles].join(' > '),
          reason: reasonOf(test.status, test.meta),
          gate,
        });
      }
    }
    // A file that fails to load has no test results, only a failed status and a message.
    if (file.status === 'failed' && fileFailures === 0) {
      fileFailures = 1;
      problems.push(`${path} failed: ${(file.message ?? '').split('\n')[0] || 'no message'}`);
    }
    failed += fileFailures;
  }
  // An entry whose file ran but matched no test is stale (renamed or removed); files that did not run (a
  // partial run) say nothing. skip-report.test.ts checks that every listed file exists.
  entries.forEach((e, i) => {
    if (!used.has(i) && ranFiles.has(e.file))
      problems.push(
        `os-gated list: ${e.file} > ${e.name} matches no test in the report (renamed or removed?)`,
      );
  });
  return {
    passed,
    failed,
    skipped,
    unexpected: skipped.filter((s) => s.gate === undefined),
    problems,
    enforced: ENFORCED.has(options.platform),
    platform: options.platform,
  };
}

/** True when the run may pass: no failures, no list problems and, where enforced, no unexpected skip. */
export function summaryOk(summary: RunSummary): boolean {
  return (
    summary.failed === 0 &&
    summary.problems.length === 0 &&
    (!summary.enforced || summary.unexpected.length === 0)
  );
}

const PLACES: Record<string, string> = { linux: 'Linux', wine: 'Windows Node under Wine' };
function placeNames(platform: string): string {
  return platform
    .split('+')
    .filter((p) => ENFORCED.has(p))
    .map((p) => PLACES[p] ?? p)
    .join(' or ');
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/**
 * The closing lines: problems, the skip breakdown by gate and then a line per reason, and last, alone,
 * `N passed, N failed, N skipped`.
 */
export function formatSummary(summary: RunSummary): string[] {
  const lines = [...summary.problems];
  const label = summary.enforced ? 'unexpected' : 'not OS-gated';
  const byGate = countBy(summary.skipped, (s) => s.gate ?? label);
  if (summary.skipped.length > 0) {
    const parts = [...byGate].map(([gate, tests]) => `${gate} ${tests.length}`);
    lines.push(`skipped: ${summary.skipped.length} (${parts.join(', ')})`);
    for (const [gate, tests] of byGate) {
      for (const [reason, same] of countBy(tests, (s) => s.reason)) {
        const example = gate === label ? ` — e.g. ${same[0]!.id}` : '';
        lines.push(`  ${gate} ${same.length}: ${reason}${example}`);
      }
    }
  }
  if (summary.enforced && summary.unexpected.length > 0) {
    lines.push(
      `skip check FAILED: ${summary.unexpected.length} test(s) skipped on ${placeNames(summary.platform)} without an OS gate in test/os-gated.json`,
    );
  }
  lines.push(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped.length} skipped`);
  return lines;
}

/**
 * Several runs (Linux's and the Wine step's) as one: counts added, problems and unexpected skips kept, each
 * skip id prefixed with its run's label when the label is not empty.
 */
export function mergeSummaries(runs: ReadonlyArray<{ label: string; summary: RunSummary }>): RunSummary {
  const tag = (label: string, s: SkippedTest): SkippedTest =>
    label ? { ...s, id: `[${label}] ${s.id}` } : s;
  const skipped = runs.flatMap(({ label, summary }) => summary.skipped.map((s) => tag(label, s)));
  return {
    passed: runs.reduce((n, r) => n + r.summary.passed, 0),
    failed: runs.reduce((n, r) => n + r.summary.failed, 0),
    skipped,
    unexpected: runs.flatMap(({ label, summary }) =>
      summary.enforced ? summary.unexpected.map((s) => tag(label, s)) : [],
    ),
    problems: runs.flatMap(({ label, summary }) =>
      summary.problems.map((p) => (label ? `[${label}] ${p}` : p)),
    ),
    enforced: runs.some((r) => r.summary.enforced),
    platform: runs.map((r) => r.summary.platform).join('+'),
  };
}
