// Every skip says why, in a form the run's JSON report keeps: vitest copies a suite's `meta` to each of its
// tests and the JSON reporter writes `meta` per test, so `pnpm test` can fail on a skip nobody declared
// (see skip-report.ts and test/os-gated.json).
import { commandExists } from './wait.js';

/** Key under a skipped test's `meta` in the vitest JSON report. */
export const SKIP_REASON_KEY = 'skipReason';

/**
 * Options for `describe(name, options, fn)` / `it(name, options, fn)`. `meta` holds `{ skipReason }` when
 * skipping; typed `object` because vitest's TaskMeta lives in a package this one does not depend on.
 */
export interface SkipOptions {
  skip: boolean;
  meta: object;
}

const announced = new Set<string>();

/** Skips the suite or test when `reason` is a string (why it cannot run here); runs it when undefined. */
export function skipWhen(reason: string | undefined): SkipOptions {
  if (reason === undefined) return { skip: false, meta: {} };
  if (!announced.has(reason)) {
    announced.add(reason);
    console.warn(`[skip] ${reason}`);
  }
  return { skip: true, meta: { [SKIP_REASON_KEY]: reason } };
}

/** Runs the suite or test only when `canRun`; otherwise skips it with `reason`. */
export function skipUnless(canRun: boolean, reason: string): SkipOptions {
  return skipWhen(canRun ? undefined : reason);
}

/** The part of vitest's test context that skipNow needs. */
export interface SkippableContext {
  readonly task: { meta: object };
  skip(note?: string): never;
}

/** Skips the running test from inside its body (something found out only at run time), recording `reason`. */
export function skipNow(ctx: SkippableContext, reason: string): never {
  (ctx.task.meta as Record<string, unknown>)[SKIP_REASON_KEY] = reason;
  console.warn(`[skip] ${reason}`);
  return ctx.skip(reason);
}

/** Why tests that run `commands` cannot run here (the ones not on PATH, and the fix), or undefined. */
export function missingCommandsReason(commands: readonly string[]): string | undefined {
  const missing = commands.filter((c) => !commandExists(c));
  if (missing.length === 0) return undefined;
  return `needs ${missing.join(', ')} on PATH (\`pnpm test:setup\` installs the Debian packages)`;
}
