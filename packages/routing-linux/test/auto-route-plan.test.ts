import { describe, expect, it } from 'vitest';
import { describeAutoRoute, describeStep } from '../src/auto-route/describe.js';
import {
  type AutoRouteOptions,
  type AutoRouteTags,
  planAutoRoute,
  ZTUN_TAGS,
} from '../src/auto-route/plan.js';
import { RoutingInputError } from '../src/errors.js';
import { ZTUN_RT_PROTOCOL, ZTUN_RULE_PRIORITY_MIN } from '../src/tags.js';

// The plan that was apps/cli's (test/plan.test.ts there keeps checking the CLI's dry-run text built on it).

const tags: AutoRouteTags = { routeProtocol: 188, rulePriorityMin: 9000, rulePriorityMax: 9099 };
const base: AutoRouteOptions = { dev: 'ztun0', families: [4], table: 31348, fwmark: 0x7a74, tags };
const lines = (o: Partial<AutoRouteOptions>) => describeAutoRoute(planAutoRoute({ ...base, ...o })).apply;

describe('planAutoRoute', () => {
  it('nothing routed: no steps', () => {
    expect(planAutoRoute(base).steps).toEqual([]);
  });

  it('routes: prefixes in the table, unmarked traffic looks it up (marked traffic cannot loop)', () => {
    expect(lines({ routes: ['10.203.0.0/16', '10.204.0.0/16'] })).toEqual([
      'ip -4 route add 10.203.0.0/16 dev ztun0 table 31348 proto 188',
      'ip -4 route add 10.204.0.0/16 dev ztun0 table 31348 proto 188',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
  });

  it('captureDefault IPv4+IPv6: default routes, bypass rules, suppress rule, fwmark rule per family', () => {
    const got = lines({
      families: [4, 6],
      captureDefault: true,
      exclude: ['192.168.0.0/16', 'fd12::/16'],
      bypass: ['203.0.113.5', '2001:db8::5'],
    });
    expect(got).toEqual([
      'ip -4 route add default dev ztun0 table 31348 proto 188',
      'ip -6 route add default dev ztun0 table 31348 proto 188',
      'ip -4 rule add pref 9000 to 203.0.113.5/32 lookup main',
      'ip -4 rule add pref 9000 to 192.168.0.0/16 lookup main',
      'ip -4 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
      'ip -6 rule add pref 9000 to 2001:db8::5/128 lookup main',
      'ip -6 rule add pref 9000 to fd12::/16 lookup main',
      'ip -6 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -6 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
  });

  it('killSwitch: an unreachable twin of each routed prefix; an IPv4-only capture refuses IPv6', () => {
    expect(lines({ captureDefault: true, killSwitch: true })).toEqual([
      'ip -4 route add default dev ztun0 table 31348 proto 188',
      'ip -4 route add unreachable default table 31348 proto 188 metric 31348',
      'ip -6 route add unreachable default table 31348 proto 188 metric 31348',
      'ip -4 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
      'ip -6 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -6 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
    expect(lines({ routes: ['10.203.0.0/16'], killSwitch: true })).toEqual([
      'ip -4 route add 10.203.0.0/16 dev ztun0 table 31348 proto 188',
      'ip -4 route add unreachable 10.203.0.0/16 table 31348 proto 188 metric 31348',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
    expect(planAutoRoute({ ...base, captureDefault: true, killSwitch: true }).notes).toEqual([
      { kind: 'family-not-captured', family: 6, refused: true },
    ]);
    expect(planAutoRoute({ ...base, captureDefault: true }).notes).toEqual([
      { kind: 'family-not-captured', family: 6, refused: false },
    ]);
  });

  it('every rule stays inside the priority range and every route carries the protocol; defaults are ztun tags', () => {
    const plan = planAutoRoute({ ...base, families: [4, 6], captureDefault: true, routes: ['10.0.0.0/8'] });
    for (const s of plan.steps) {
      if (s.kind === 'rule') expect(s.rule.priority).toBeGreaterThanOrEqual(tags.rulePriorityMin);
      if (s.kind === 'rule') expect(s.rule.priority).toBeLessThanOrEqual(tags.rulePriorityMax);
      if (s.kind === 'route') expect(s.route.protocol).toBe(tags.routeProtocol);
    }
    const { tags: _, ...untagged } = base;
    const ztun = planAutoRoute({ ...untagged, captureDefault: true });
    expect(ZTUN_TAGS.routeProtocol).toBe(ZTUN_RT_PROTOCOL);
    expect(describeStep(ztun.steps[0]!)).toBe(
      `ip -4 route add default dev ztun0 table 31348 proto ${ZTUN_RT_PROTOCOL}`,
    );
    expect(describeStep(ztun.steps.at(-1)!)).toContain(`pref ${ZTUN_RULE_PRIORITY_MIN + 2} `);
  });

  it('an exclude of an unrouted family is noted; a bypass address outside the routed prefixes gets no rule', () => {
    const plan = planAutoRoute({
      ...base,
      routes: ['10.0.0.0/8'],
      bypass: ['192.0.2.1'],
      exclude: ['fd00::/8'],
    });
    expect(plan.steps.filter((s) => s.kind === 'rule')).toHaveLength(1);
    expect(plan.notes).toEqual([{ kind: 'exclude-without-effect', prefix: 'fd00::/8', family: 6 }]);
  });

  it('a route given twice (or the default with captureDefault) is added once; addresses are canonical', () => {
    const got = lines({ captureDefault: true, routes: ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/8'] });
    expect(got.filter((l) => l.includes('route add'))).toEqual([
      'ip -4 route add default dev ztun0 table 31348 proto 188',
      'ip -4 route add 10.0.0.0/8 dev ztun0 table 31348 proto 188',
    ]);
    expect(lines({ families: [6], routes: ['FD00:0:0::/16'] })[0]).toBe(
      'ip -6 route add fd00::/16 dev ztun0 table 31348 proto 188',
    );
  });

  it('an exclude given twice, or equal to a bypass address, becomes one rule', () => {
    const got = lines({
      routes: ['10.0.0.0/8'],
      exclude: ['10.1.0.0/16', '10.1.0.0/16', '10.9.9.9'],
      bypass: ['10.9.9.9'],
    });
    expect(got.filter((l) => l.includes('pref 9000'))).toEqual([
      'ip -4 rule add pref 9000 to 10.9.9.9/32 lookup main',
      'ip -4 rule add pref 9000 to 10.1.0.0/16 lookup main',
    ]);
  });

  it('undo runs in exact reverse and deletes what was added', () => {
    expect(describeAutoRoute(planAutoRoute({ ...base, captureDefault: true })).undo).toEqual([
      'ip -4 rule del pref 9002 not fwmark 0x7a74 lookup 31348',
      'ip -4 rule del pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 route del default dev ztun0 table 31348 proto 188',
    ]);
  });

  it('refuses a priority range too small for its rules, a bad prefix and a bad fwmark with RoutingInputError', () => {
    const small = { routeProtocol: 1, rulePriorityMin: 10, rulePriorityMax: 11 };
    expect(() => planAutoRoute({ ...base, tags: small })).toThrow(/fewer than 3 rules/);
    expect(() => planAutoRoute({ ...base, routes: ['10.0.0.0/33'] })).toThrow(RoutingInputError);
    expect(() => planAutoRoute({ ...base, exclude: ['nope'] })).toThrow(/auto-route exclude "nope"/);
    expect(() => planAutoRoute({ ...base, fwmark: -1 })).toThrow(/fwmark must be an integer/);
  });
});
