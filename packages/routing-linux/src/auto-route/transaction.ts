import type { RtNetlink } from '../rtnetlink.js';
import type { RouteSpec, RuleSpec } from '../types.js';
import { describeStep } from './describe.js';
import type { AutoRoutePlan, AutoRouteStep } from './plan.js';

// Applying a plan is a transaction: steps go in, in order; the first failure (EEXIST from a route or rule
// someone else installed, EPERM, …) undoes every step applied before it, in reverse, and throws. A caller
// never holds half an auto-route. Undo of a whole plan is the same reverse walk.

/** What the transaction needs from rtnetlink (RtNetlink has it; tests pass a fake). */
export type AutoRouteClient = Pick<
  RtNetlink,
  'addRoute' | 'deleteRoute' | 'addRule' | 'deleteRule' | 'getLink'
>;

export interface ApplyAutoRouteOptions {
  /** Interface index of plan.dev; looked up by name when absent (and a route needs it). */
  readonly oif?: number;
  /** Called with each step's iproute2 text before it is applied or undone (for debug logs). */
  readonly onStep?: (text: string, direction: 'apply' | 'undo') => void;
}

/** A step that could not be undone. */
export interface UndoFailure {
  readonly step: AutoRouteStep;
  /** The step as iproute2 text (`ip -4 rule add …`). */
  readonly text: string;
  readonly error: Error;
}

/** A step failed while applying; the steps before it were undone (undoFailures: those that would not go). */
export class AutoRouteError extends Error {
  override readonly name = 'AutoRouteError';
  constructor(
    readonly step: AutoRouteStep,
    /** Position of the failed step in plan.steps. */
    readonly stepIndex: number,
    override readonly cause: Error,
    readonly undoFailures: readonly UndoFailure[],
  ) {
    const left = undoFailures.length ? `; ${undoFailures.length} of them could not be undone` : '';
    super(
      `'${describeStep(step)}' failed: ${cause.message}; undid the ${stepIndex} step(s) applied before it${left}`,
    );
  }
}

/** An applied plan. */
export interface AppliedAutoRoute {
  readonly plan: AutoRoutePlan;
  /**
   * Removes every step, in reverse, and returns those that would not go (empty: all removed). Every step is
   * tried even after a failure. A second call does nothing and returns [].
   */
  undo(): UndoFailure[];
}

/** The RouteSpec of a planned route (`oif` for a route through the tunnel). */
export function routeSpecOf(
  step: Extract<AutoRouteStep, { kind: 'route' }>,
  oif: number | undefined,
): RouteSpec {
  const r = step.route;
  return {
    dst: r.prefixLength === 0 ? 'default' : r.dst,
    family: r.family,
    table: r.table,
    protocol: r.protocol,
    ...(r.unreachable ? { type: 'unreachable' as const } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
    ...(!r.unreachable && oif !== undefined ? { oif } : {}),
  };
}

/** The RuleSpec of a planned rule. */
export function ruleSpecOf(step: Extract<AutoRouteStep, { kind: 'rule' }>): RuleSpec {
  const r = step.rule;
  return {
    family: r.family,
    priority: r.priority,
    ...(r.action ? { action: r.action } : { table: r.table }),
    ...(r.goto !== undefined ? { goto: r.goto } : {}),
    ...(r.dst ? { dst: r.dst } : {}),
    ...(r.fwmark !== undefined ? { fwmark: r.fwmark, fwmask: r.fwmask ?? 0xffffffff } : {}),
    ...(r.invert ? { invert: true } : {}),
    ...(r.suppressPrefixLength !== undefined ? { suppressPrefixLength: r.suppressPrefixLength } : {}),
    ...(r.uidRange ? { uidRange: r.uidRange } : {}),
    ...(r.iif ? { iif: r.iif } : {}),
  };
}

function undoSteps(
  client: AutoRouteClient,
  applied: readonly AutoRouteStep[],
  oif: number | undefined,
  onStep: ApplyAutoRouteOptions['onStep'],
): UndoFailure[] {
  const failures: UndoFailure[] = [];
  for (let i = applied.length - 1; i >= 0; i--) {
    const step = applied[i]!;
    try {
      onStep?.(describeStep(step, 'undo'), 'undo');
      if (step.kind === 'rule') client.deleteRule(ruleSpecOf(step));
      else client.deleteRoute(routeSpecOf(step, oif));
    } catch (err) {
      failures.push({ step, text: describeStep(step), error: err as Error });
    }
  }
  return failures;
}

/**
 * Applies the plan's steps in order. On the first failure, undoes what it applied (reverse order) and throws
 * AutoRouteError (`cause`: the original error, e.g. a NetlinkError with code 'EEXIST').
 */
export function applyAutoRoute(
  client: AutoRouteClient,
  plan: AutoRoutePlan,
  options: ApplyAutoRouteOptions = {},
): AppliedAutoRoute {
  const needsLink = plan.steps.some((s) => s.kind === 'route' && !s.route.unreachable);
  const oif = options.oif ?? (needsLink ? client.getLink(plan.dev).index : undefined);
  const applied: AutoRouteStep[] = [];
  for (const [index, step] of plan.steps.entries()) {
    try {
      options.onStep?.(describeStep(step, 'apply'), 'apply');
      if (step.kind === 'rule') client.addRule(ruleSpecOf(step));
      else client.addRoute(routeSpecOf(step, oif));
    } catch (err) {
      const cause = err instanceof Error ? err : new Error(String(err));
      throw new AutoRouteError(step, index, cause, undoSteps(client, applied, oif, options.onStep));
    }
    applied.push(step);
  }
  let done = false;
  return {
    plan,
    undo() {
      if (done) return [];
      done = true;
      return undoSteps(client, applied, oif, options.onStep);
    },
  };
}

/**
 * Removes every route and rule carrying ztun's tags (ZTUN_RT_PROTOCOL, priorities in the ztun range): what a
 * process that died without undo left behind. Returns how many of each went.
 */
export function flushAutoRoute(client: Pick<RtNetlink, 'flushZtun'>): { routes: number; rules: number } {
  return client.flushZtun();
}
