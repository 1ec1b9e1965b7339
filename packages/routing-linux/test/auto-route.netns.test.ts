import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, type Netns, netnsSkipReason, runInNetns, skipWhen } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAutoRoute } from '../src/auto-route/describe.js';
import { type AutoRouteOptions, planAutoRoute } from '../src/auto-route/plan.js';
import { AutoRouteError, applyAutoRoute, flushAutoRoute } from '../src/auto-route/transaction.js';
import { NetlinkError } from '../src/errors.js';
import { RtNetlink } from '../src/rtnetlink.js';
import { ZTUN_RT_PROTOCOL } from '../src/tags.js';

// The auto-route transaction against the kernel, in a namespace this file creates (and always deletes);
// iproute2 (`ip -n NS …`) is the independent view of what is installed.

const skip = netnsSkipReason();
const example = join(fileURLToPath(import.meta.url), '..', '..', 'examples', 'auto-route.mjs');
const TABLE = 4242;

describe('auto-route in a network namespace', skipWhen(skip), () => {
  let ns: Netns;
  let nl: RtNetlink;
  let oif: number;

  beforeAll(() => {
    ns = createNetns('ar');
    ns.ip('tuntap', 'add', 'art0', 'mode', 'tun');
    ns.ip('addr', 'add', '10.77.0.1/24', 'dev', 'art0');
    ns.ip('addr', 'add', 'fd77::1/64', 'dev', 'art0', 'nodad');
    ns.ip('link', 'set', 'art0', 'up');
    nl = runInNetns(ns, () => RtNetlink.open({ timeoutMs: 3000 }));
    oif = nl.getLink('art0').index;
  });

  afterAll(async () => {
    nl?.close();
    await ns?.dispose();
  });

  const options: AutoRouteOptions = {
    dev: 'art0',
    families: [4, 6],
    table: TABLE,
    fwmark: 0x77,
    captureDefault: true,
    killSwitch: true,
    exclude: ['192.168.0.0/16'],
    bypass: ['10.9.9.9', '2001:db8::9'],
  };
  const plan = planAutoRoute(options);
  /** What iproute2 shows of ztun's routes and rules (both families), as text lines. */
  const installed = () =>
    [
      ...ns.ip('-4', 'route', 'show', 'table', 'all', 'proto', String(ZTUN_RT_PROTOCOL)).split('\n'),
      ...ns.ip('-6', 'route', 'show', 'table', 'all', 'proto', String(ZTUN_RT_PROTOCOL)).split('\n'),
      // `ip rule show proto N` does not filter in every iproute2: filter the lines here.
      ...ns
        .ip('-4', 'rule', 'show')
        .split('\n')
        .filter((l) => l.endsWith(` proto ${ZTUN_RT_PROTOCOL}`)),
      ...ns
        .ip('-6', 'rule', 'show')
        .split('\n')
        .filter((l) => l.endsWith(` proto ${ZTUN_RT_PROTOCOL}`)),
    ].filter((l) => l.trim() !== '');

  it('applies every step (what iproute2 then shows), routes the default into the table, and undoes it all', () => {
    const applied = applyAutoRoute(nl, plan, { oif });
    try {
      const lines = installed();
      expect(lines).toHaveLength(plan.steps.length);
      expect(lines.join('\n')).toContain(`not from all fwmark 0x77 lookup ${TABLE}`);
      expect(lines.join('\n')).toContain('from all lookup main suppress_prefixlength 0');
      expect(lines.join('\n')).toContain('to 10.9.9.9 lookup main');
      expect(ns.ip('route', 'get', '192.0.2.1')).toMatch(new RegExp(`dev art0 table ${TABLE}`));
      // The mark skips the tunnel; the fresh namespace's main table has no default, so: unreachable.
      const marked = ns.tryExec('ip', ['route', 'get', '192.0.2.1', 'mark', '0x77']);
      expect(marked.stdout).not.toContain('dev art0');
    } finally {
      expect(applied.undo()).toEqual([]);
    }
    expect(installed()).toEqual([]);
  });

  it('EEXIST half-way (a route someone else installed) undoes the steps before it; theirs stays', () => {
    // Untagged, and exactly where the plan's IPv4 kill-switch route goes (same table, metric, prefix).
    ns.ip('-4', 'route', 'add', 'unreachable', 'default', 'table', String(TABLE), 'metric', '31348');
    try {
      const failAt = plan.steps.findIndex((s) => s.kind === 'route' && s.route.unreachable);
      expect(failAt).toBeGreaterThan(0);
      let caught: unknown;
      try {
        applyAutoRoute(nl, plan, { oif });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AutoRouteError);
      const e = caught as AutoRouteError;
      expect(e.stepIndex).toBe(failAt);
      expect(e.cause).toBeInstanceOf(NetlinkError);
      expect((e.cause as NetlinkError).code).toBe('EEXIST');
      expect(e.undoFailures).toEqual([]);
      expect(installed()).toEqual([]);
      expect(ns.ip('-4', 'route', 'show', 'table', String(TABLE))).toContain('unreachable default');
    } finally {
      ns.ip('-4', 'route', 'del', 'unreachable', 'default', 'table', String(TABLE), 'metric', '31348');
    }
  });

  it('a rule failing late (EEXIST on the last IPv6 rule) leaves nothing of the plan behind', () => {
    const last = describeAutoRoute(plan).apply.at(-1)!;
    expect(last).toBe(`ip -6 rule add pref 2602 not fwmark 0x77 lookup ${TABLE}`);
    ns.ip(
      '-6',
      'rule',
      'add',
      'pref',
      '2602',
      'not',
      'fwmark',
      '0x77',
      'lookup',
      String(TABLE),
      'proto',
      String(ZTUN_RT_PROTOCOL),
    );
    try {
      expect(() => applyAutoRoute(nl, plan, { oif })).toThrow(/EEXIST/);
      expect(installed()).toEqual([
        `2602:\tnot from all fwmark 0x77 lookup ${TABLE} proto ${ZTUN_RT_PROTOCOL}`,
      ]);
    } finally {
      ns.ip('-6', 'rule', 'del', 'pref', '2602');
    }
    expect(installed()).toEqual([]);
  });

  it('flushAutoRoute removes what an applied plan left when nobody undid it', () => {
    applyAutoRoute(nl, plan, { oif });
    const routes = plan.steps.filter((s) => s.kind === 'route').length;
    expect(flushAutoRoute(nl)).toEqual({ routes, rules: plan.steps.length - routes });
    expect(installed()).toEqual([]);
  });

  it('uid and interface selectors: only included users reach the table, excluded ones never; undo and flush take them', () => {
    const selected = planAutoRoute({
      ...options,
      killSwitch: false,
      includeUids: [{ start: 1001, end: 1002 }],
      includeInterfaces: ['lan0'],
      excludeUids: [{ start: 1002, end: 1002 }],
      excludeInterfaces: ['docker0'],
    });
    const routeGet = (...extra: string[]) => ns.tryExec('ip', ['route', 'get', '192.0.2.1', ...extra]).stdout;
    const applied = applyAutoRoute(nl, selected, { oif });
    try {
      const lines = installed().join('\n');
      expect(lines).toContain(`2602:\tfrom all uidrange 1001-1002 lookup ${TABLE} proto 122`);
      expect(lines).toContain('2600:\tfrom all uidrange 1002-1002 goto 2603 proto 122');
      expect(lines).toContain('2600:\tfrom all fwmark 0x77 goto 2603 proto 122');
      expect(lines).toContain('2603:\tfrom all nop proto 122');
      expect(lines).toMatch(/2602:\tfrom all iif lan0 (\[detached\] )?lookup 4242/);
      expect(lines).toMatch(/2600:\tfrom all iif docker0 (\[detached\] )?goto 2603/);
      expect(routeGet('uid', '1001')).toMatch(new RegExp(`dev art0 table ${TABLE}`));
      // Not included, or 1002 excluded: the main table (which has no default here) decides, not the tunnel.
      for (const uid of ['0', '1002', '1003']) expect(routeGet('uid', uid)).not.toContain('dev art0');
      // The tunnel's own marked sockets, even as an included user, keep the main table.
      expect(routeGet('uid', '1001', 'mark', '0x77')).not.toContain('dev art0');
    } finally {
      expect(applied.undo()).toEqual([]);
    }
    expect(installed()).toEqual([]);
    applyAutoRoute(nl, selected, { oif });
    const routes = selected.steps.filter((s) => s.kind === 'route').length;
    expect(flushAutoRoute(nl)).toEqual({ routes, rules: selected.steps.length - routes });
    expect(installed()).toEqual([]);
  });

  it('the README example runs: dry-run text, the rules and table it installed, and nothing after undo', () => {
    const r = ns.tryExec(process.execPath, [example]);
    expect(r.status, r.stderr).toBe(0);
    const [during, after] = r.stdout.split('# undone (0 failure(s)); ip rule\n');
    expect(during).toContain('ip -4 rule add pref 2602 not fwmark 0x7a74 lookup 31348\n');
    expect(during).toContain('2602:\tnot from all fwmark 0x7a74 lookup 31348 proto 122');
    expect(during).toContain('unreachable default proto 122 metric 31348');
    expect(during).toMatch(/192\.0\.2\.1 dev ztex0 table 31348/);
    expect(after).not.toContain('proto 122');
    expect(ns.ip('link', 'show')).not.toContain('ztex0');
  });
});
