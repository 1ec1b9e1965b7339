import { describe, expect, it } from 'vitest';
import { describeStep } from '../src/auto-route/describe.js';
import { planAutoRoute } from '../src/auto-route/plan.js';
import {
  type AutoRouteClient,
  AutoRouteError,
  applyAutoRoute,
  flushAutoRoute,
} from '../src/auto-route/transaction.js';
import { NetlinkError } from '../src/errors.js';
import type { LinkInfo, RouteSpec, RuleSpec } from '../src/types.js';

// The transaction against a fake rtnetlink that keeps the installed routes/rules as a set of keys and can
// be told to fail at the N-th add (or at given deletes): no root, every failure position checked.

const key = (kind: string, spec: RouteSpec | RuleSpec) => `${kind} ${JSON.stringify(spec)}`;

class FakeNetlink implements AutoRouteClient {
  readonly installed = new Set<string>();
  readonly calls: string[] = [];
  adds = 0;
  constructor(
    private readonly failAtAdd = -1,
    private readonly failDeletes = new Set<number>(),
    private deletes = 0,
  ) {}
  private add(kind: string, spec: RouteSpec | RuleSpec): void {
    this.calls.push(`add ${kind}`);
    if (this.adds++ === this.failAtAdd) throw new NetlinkError(`${kind} add`, 17);
    const k = key(kind, spec);
    if (this.installed.has(k)) throw new NetlinkError(`${kind} add`, 17);
    this.installed.add(k);
  }
  private del(kind: string, spec: RouteSpec | RuleSpec): void {
    this.calls.push(`del ${kind}`);
    if (this.failDeletes.has(this.deletes++)) throw new NetlinkError(`${kind} del`, 1);
    if (!this.installed.delete(key(kind, spec))) throw new NetlinkError(`${kind} del`, 3);
  }
  addRoute(r: RouteSpec) {
    this.add('route', r);
  }
  deleteRoute(r: RouteSpec) {
    this.del('route', r);
  }
  addRule(r: RuleSpec) {
    this.add('rule', r);
  }
  deleteRule(r: RuleSpec) {
    this.del('rule', r);
  }
  getLink(name: string | number): LinkInfo {
    if (name !== 'zt9') throw new NetlinkError(`link get ${name}`, 19);
    return { index: 42 } as LinkInfo;
  }
}

const plan = planAutoRoute({
  dev: 'zt9',
  families: [4, 6],
  table: 1000,
  fwmark: 7,
  captureDefault: true,
  killSwitch: true,
  exclude: ['192.168.0.0/16'],
});

describe('applyAutoRoute', () => {
  it('applies every step in order through the link found by name; undo removes all, in reverse', () => {
    const nl = new FakeNetlink();
    const seen: string[] = [];
    const applied = applyAutoRoute(nl, plan, { onStep: (t) => seen.push(t) });
    expect(plan.steps.length).toBe(9);
    expect(nl.installed.size).toBe(plan.steps.length);
    expect([...nl.installed][0]).toContain('"oif":42');
    expect(seen).toEqual(plan.steps.map((s) => describeStep(s)));
    expect(applied.undo()).toEqual([]);
    expect(nl.installed.size).toBe(0);
    expect(seen.slice(plan.steps.length)).toEqual(
      [...plan.steps].reverse().map((s) => describeStep(s, 'undo')),
    );
    // Idempotent: a second undo touches nothing.
    const calls = nl.calls.length;
    expect(applied.undo()).toEqual([]);
    expect(nl.calls.length).toBe(calls);
  });

  it('a failure at any step N undoes the N steps before it and throws AutoRouteError with the cause', () => {
    for (let n = 0; n < plan.steps.length; n++) {
      const nl = new FakeNetlink(n);
      let caught: unknown;
      try {
        applyAutoRoute(nl, plan, { oif: 5 });
      } catch (err) {
        caught = err;
      }
      expect(caught, `step ${n}`).toBeInstanceOf(AutoRouteError);
      const e = caught as AutoRouteError;
      expect(e.stepIndex).toBe(n);
      expect(e.step).toBe(plan.steps[n]);
      expect((e.cause as NetlinkError).code).toBe('EEXIST');
      expect(e.message).toContain(`'${describeStep(plan.steps[n]!)}' failed: `);
      expect(e.message).toMatch(new RegExp(`undid the ${n} step\\(s\\)`));
      expect(e.undoFailures).toEqual([]);
      expect(nl.installed.size, `left behind after a failure at step ${n}`).toBe(0);
      expect(nl.calls.filter((c) => c.startsWith('del'))).toHaveLength(n);
    }
  });

  it('EEXIST from a step already installed by someone else is undone half-way', () => {
    const nl = new FakeNetlink();
    const other = applyAutoRoute(
      nl,
      planAutoRoute({ dev: 'zt9', families: [4], table: 1000, fwmark: 7, routes: ['10.0.0.0/8'] }),
    );
    const before = new Set(nl.installed);
    expect(() =>
      applyAutoRoute(
        nl,
        planAutoRoute({
          dev: 'zt9',
          families: [4],
          table: 1000,
          fwmark: 7,
          routes: ['10.1.0.0/16', '10.0.0.0/8'],
        }),
      ),
    ).toThrow(/EEXIST/);
    expect(nl.installed).toEqual(before);
    other.undo();
  });

  it('undo keeps going past a step that will not go and reports it', () => {
    const nl = new FakeNetlink(-1, new Set([0, 3]));
    const applied = applyAutoRoute(nl, plan, { oif: 5 });
    const failures = applied.undo();
    expect(failures.map((f) => f.text)).toEqual([
      describeStep(plan.steps.at(-1)!),
      describeStep(plan.steps.at(-4)!),
    ]);
    expect(failures[0]!.error).toBeInstanceOf(NetlinkError);
    expect(nl.installed.size).toBe(2);
  });

  it('an unknown link fails before anything is applied; a plan of unreachable routes needs no link', () => {
    const nl = new FakeNetlink();
    expect(() => applyAutoRoute(nl, { ...plan, dev: 'nope' })).toThrow(/ENODEV/);
    expect(nl.calls).toEqual([]);
    const refuseOnly = planAutoRoute({
      dev: 'nope',
      families: [],
      table: 1,
      fwmark: 1,
      captureDefault: true,
      killSwitch: true,
    });
    applyAutoRoute(nl, refuseOnly).undo();
    expect(nl.installed.size).toBe(0);
  });

  it('flushAutoRoute delegates to the tagged flush', () => {
    expect(flushAutoRoute({ flushZtun: () => ({ routes: 2, rules: 3 }) })).toEqual({ routes: 2, rules: 3 });
  });
});
