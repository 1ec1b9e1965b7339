import { describe, expect, it } from 'vitest';
import { describeAutoRoute } from '../src/auto-route/describe.js';
import { type AutoRouteOptions, planAutoRoute } from '../src/auto-route/plan.js';
import { parseUidRange } from '../src/auto-route/selectors.js';
import { ruleSpecOf } from '../src/auto-route/transaction.js';
import { buildRule, parseRule, resolveRule } from '../src/codec/rule.js';
import { RoutingInputError } from '../src/errors.js';

// Issue 16 item 1: uid and interface selectors in the auto-route plan, and FRA_UID_RANGE in the rule codec.

const tags = { routeProtocol: 188, rulePriorityMin: 9000, rulePriorityMax: 9099 };
const base: AutoRouteOptions = { dev: 'ztun0', families: [4], table: 31348, fwmark: 0x7a74, tags };
const plan = (o: Partial<AutoRouteOptions>) => planAutoRoute({ ...base, ...o });
const lines = (o: Partial<AutoRouteOptions>) => describeAutoRoute(plan(o)).apply;

describe('auto-route uid and interface selectors', () => {
  it('exclusions: `uidrange|iif … goto` past the band (a nop) before the tunnel rule, which stays the catch-all', () => {
    expect(
      lines({
        captureDefault: true,
        excludeUids: [
          { start: 1000, end: 1000 },
          { start: 2000, end: 2999 },
        ],
        excludeInterfaces: ['docker0'],
      }),
    ).toEqual([
      'ip -4 route add default dev ztun0 table 31348 proto 188',
      'ip -4 rule add pref 9003 nop',
      'ip -4 rule add pref 9000 uidrange 1000-1000 goto 9003',
      'ip -4 rule add pref 9000 uidrange 2000-2999 goto 9003',
      'ip -4 rule add pref 9000 iif docker0 goto 9003',
      'ip -4 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
  });

  it('inclusions: one `lookup T` rule per selector replaces `not fwmark`, marked sockets guarded at B+0', () => {
    expect(
      lines({
        families: [4, 6],
        routes: ['10.0.0.0/8', 'fd00::/8'],
        includeUids: [{ start: 1001, end: 1001 }],
        includeInterfaces: ['br-lan'],
        excludeUids: [{ start: 1500, end: 1500 }],
      }),
    ).toEqual([
      'ip -4 route add 10.0.0.0/8 dev ztun0 table 31348 proto 188',
      'ip -6 route add fd00::/8 dev ztun0 table 31348 proto 188',
      'ip -4 rule add pref 9003 nop',
      'ip -4 rule add pref 9000 uidrange 1500-1500 goto 9003',
      'ip -4 rule add pref 9000 fwmark 0x7a74 goto 9003',
      'ip -4 rule add pref 9002 uidrange 1001-1001 lookup 31348',
      'ip -4 rule add pref 9002 iif br-lan lookup 31348',
      'ip -6 rule add pref 9003 nop',
      'ip -6 rule add pref 9000 uidrange 1500-1500 goto 9003',
      'ip -6 rule add pref 9000 fwmark 0x7a74 goto 9003',
      'ip -6 rule add pref 9002 uidrange 1001-1001 lookup 31348',
      'ip -6 rule add pref 9002 iif br-lan lookup 31348',
    ]);
  });

  it('undo is the exact reverse; rule specs carry the selectors to the kernel', () => {
    const p = plan({ captureDefault: true, includeUids: [{ start: 7, end: 9 }] });
    expect(describeAutoRoute(p).undo.slice(0, 2)).toEqual([
      'ip -4 rule del pref 9002 uidrange 7-9 lookup 31348',
      'ip -4 rule del pref 9001 lookup main suppress_prefixlength 0',
    ]);
    const rules = p.steps.filter((s) => s.kind === 'rule').map(ruleSpecOf);
    expect(rules.at(-1)).toEqual({ family: 4, priority: 9002, table: 31348, uidRange: { start: 7, end: 9 } });
    const iif = plan({ routes: ['10.0.0.0/8'], excludeInterfaces: ['eth1'] }).steps.find(
      (s) => s.kind === 'rule' && s.rule.iif,
    );
    expect(iif && iif.kind === 'rule' && ruleSpecOf(iif)).toEqual({
      family: 4,
      priority: 9000,
      action: 'goto',
      goto: 9003,
      iif: 'eth1',
    });
    expect(ruleSpecOf(p.steps.find((s) => s.kind === 'rule') as never)).toEqual({
      family: 4,
      priority: 9003,
      action: 'nop',
    });
  });

  it('duplicates become one rule (EEXIST otherwise); selectors without routes are noted', () => {
    const got = lines({
      routes: ['10.0.0.0/8'],
      excludeUids: [
        { start: 5, end: 5 },
        { start: 5, end: 5 },
      ],
      includeInterfaces: ['lan0', 'lan0'],
    });
    expect(got.filter((l) => l.includes('uidrange'))).toHaveLength(1);
    expect(got.filter((l) => l.includes('iif lan0'))).toHaveLength(1);
    expect(plan({ excludeUids: [{ start: 5, end: 5 }] }).notes).toEqual([
      { kind: 'selectors-without-effect' },
    ]);
    expect(plan({ excludeUids: [{ start: 5, end: 5 }] }).steps).toEqual([]);
  });

  it('refuses bad uids, bad interface names and the tunnel as an included interface', () => {
    expect(() => plan({ includeUids: [{ start: 9, end: 3 }] })).toThrow(/ends before it starts/);
    expect(() => plan({ excludeUids: [{ start: -1, end: 3 }] })).toThrow(RoutingInputError);
    expect(() => plan({ excludeUids: [{ start: 0, end: 0xffffffff }] })).toThrow(/uid range/);
    expect(() => plan({ includeInterfaces: ['a/b'] })).toThrow(/not a valid interface name/);
    expect(() => plan({ excludeInterfaces: ['x'.repeat(16)] })).toThrow(RoutingInputError);
    expect(() => plan({ includeInterfaces: ['ztun0'] })).toThrow(/the tunnel itself/);
    const small = { ...tags, rulePriorityMax: 9002 };
    expect(() => plan({ tags: small, excludeUids: [{ start: 1, end: 1 }] })).toThrow(/fewer than 4 rules/);
    expect(plan({ tags: small, routes: ['10.0.0.0/8'] }).steps).toHaveLength(2);
  });

  it('parseUidRange: UID or START-END', () => {
    expect(parseUidRange('1000')).toEqual({ start: 1000, end: 1000 });
    expect(parseUidRange(' 10 - 20 ')).toEqual({ start: 10, end: 20 });
    for (const bad of ['', 'root', '1-', '-1', '5-4', '4294967295', '1.5'])
      expect(() => parseUidRange(bad), bad).toThrow(RoutingInputError);
  });
});

describe('FRA_UID_RANGE in the rule codec', () => {
  // `ip rule add pref 2600 uidrange 1000-1999 iif eth0 lookup 31348 proto 122` as iproute2 6.1 sent it
  // (strace -e write=3), the header's sequence number zeroed. Little-endian host.
  const IPROUTE2 = [
    '4c00000020000506000000000000000002000000000000010000000008000600',
    '280a00000c001400e8030000cf07000009000300657468300000000008000f00',
    '747a0000050015007a000000',
  ].join('');
  it('encodes like iproute2 and decodes its own encoding', () => {
    const spec = {
      family: 4 as const,
      priority: 2600,
      table: 31348,
      iif: 'eth0',
      uidRange: { start: 1000, end: 1999 },
    };
    const msg = buildRule('add', resolveRule('t', 'add', spec)).finish(0);
    // Same attributes in the same order as iproute2 sends them.
    expect(Buffer.from(msg).toString('hex')).toBe(IPROUTE2);
    const back = parseRule({
      type: 32,
      flags: 0,
      seq: 0,
      pid: 0,
      payload: msg.subarray(16),
    });
    expect(back).toMatchObject({
      priority: 2600,
      table: 31348,
      iif: 'eth0',
      uidRange: { start: 1000, end: 1999 },
    });
  });

  it('goto and nop encode like iproute2 (`uidrange 5-5 goto 2603`, `nop`), goto only forward', () => {
    const GOTO = [
      '4000000020000506000000000000000002000000000000020000000008000600',
      '280a00000c0014000500000005000000080004002b0a0000050015007a000000',
    ].join('');
    const NOP = [
      '2c00000020000506000000000000000002000000000000030000000008000600',
      '2b0a0000050015007a000000',
    ].join('');
    const enc = (spec: Parameters<typeof resolveRule>[2]) =>
      Buffer.from(buildRule('add', resolveRule('t', 'add', spec)).finish(0)).toString('hex');
    expect(
      enc({ family: 4, priority: 2600, uidRange: { start: 5, end: 5 }, action: 'goto', goto: 2603 }),
    ).toBe(GOTO);
    expect(enc({ family: 4, priority: 2603, action: 'nop' })).toBe(NOP);
    expect(() => resolveRule('t', 'add', { family: 4, priority: 9, action: 'goto', goto: 9 })).toThrow(
      /not after/,
    );
    expect(() => resolveRule('t', 'add', { family: 4, priority: 9, goto: 12 })).toThrow(/goto needs/);
  });

  it('refuses a reversed or out-of-range uidrange', () => {
    expect(() => resolveRule('t', 'add', { family: 4, priority: 1, uidRange: { start: 2, end: 1 } })).toThrow(
      /ends before it starts/,
    );
    expect(() =>
      resolveRule('t', 'add', { family: 4, priority: 1, uidRange: { start: 0, end: 0xffffffff } }),
    ).toThrow(RoutingInputError);
  });
});
