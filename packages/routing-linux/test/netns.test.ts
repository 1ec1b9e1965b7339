import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, type Netns, netnsSkipReason, runInNetns, skipWhen } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, RoutingInputError } from '../src/errors.js';
import { RtNetlink } from '../src/rtnetlink.js';
import { ZTUN_RT_PROTOCOL, ZTUN_RULE_PRIORITY_MAX, ZTUN_RULE_PRIORITY_MIN } from '../src/tags.js';
import type { RouteInfo, RuleInfo } from '../src/types.js';

// Real rtnetlink against the kernel, inside a namespace this file creates (and always deletes). iproute2's
// JSON output (`ip -n NS -j …`) is the independent client every change is checked against.

const skip = netnsSkipReason();

function caught(fn: () => unknown): NetlinkError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NetlinkError) return err;
    throw err;
  }
  throw new Error('expected a NetlinkError');
}

const fdCount = () => readdirSync('/proc/self/fd').length;

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  metric?: number;
  protocol?: string;
}
interface IpRule {
  priority: number;
  not?: null;
  src: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  fwmark?: string;
  fwmask?: string;
  iif?: string;
  oif?: string;
  table?: string;
  action?: string;
  suppress_prefixlen?: number;
}
const TABLE_NAMES: Record<string, number> = { main: 254, local: 255, default: 253 };

describe('RtNetlink in a network namespace', skipWhen(skip), () => {
  let ns: Netns;
  let nl: RtNetlink;
  const ifIndex: Record<string, number> = {};
  let ifName: Record<number, string> = {};

  beforeAll(() => {
    ns = createNetns('rl');
    ns.ip('tuntap', 'add', 'zt0', 'mode', 'tun');
    // A veth pair gives a link with carrier, so gateway routes resolve.
    ns.ip('link', 'add', 've0', 'type', 'veth', 'peer', 'name', 've1');
    ns.ip('link', 'set', 've1', 'up');
    for (const l of ns.ipJson<{ ifindex: number; ifname: string }[]>('link', 'show'))
      ifIndex[l.ifname] = l.ifindex;
    ifName = Object.fromEntries(Object.entries(ifIndex).map(([k, v]) => [v, k]));
    nl = runInNetns(ns, () => RtNetlink.open({ timeoutMs: 3000 }));
  });

  afterAll(async () => {
    nl?.close();
    await ns?.dispose();
  });

  const ipRoutes = (family: 4 | 6): IpRoute[] =>
    ns.ipJson<IpRoute[]>(`-${family}`, 'route', 'show', 'table', 'all', 'proto', String(ZTUN_RT_PROTOCOL));

  function ipRouteKey(r: IpRoute, family: 4 | 6): string {
    const dst =
      r.dst === 'default'
        ? family === 4
          ? '0.0.0.0/0'
          : '::/0'
        : r.dst.includes('/')
          ? r.dst
          : `${r.dst}/${family === 4 ? 32 : 128}`;
    const table = r.table === undefined ? 254 : (TABLE_NAMES[r.table] ?? Number(r.table));
    return [dst, r.type ?? 'unicast', r.gateway ?? '-', r.dev ?? '-', table, r.metric ?? '-'].join(' ');
  }
  const ourRouteKey = (r: RouteInfo) =>
    [
      r.dst,
      r.type,
      r.gateway ?? '-',
      r.oif !== undefined ? ifName[r.oif] : '-',
      r.table,
      r.metric ?? '-',
    ].join(' ');

  function sameRoutesAsIproute2(): string[] {
    const ours = nl.listRoutes({ protocol: ZTUN_RT_PROTOCOL }).map(ourRouteKey).sort();
    const theirs = [
      ...ipRoutes(4).map((r) => ipRouteKey(r, 4)),
      ...ipRoutes(6).map((r) => ipRouteKey(r, 6)),
    ].sort();
    expect(ours).toEqual(theirs);
    return ours;
  }

  it('socket opened inside the namespace stays there: links are the namespace’s, matching `ip -j link`', () => {
    const ours = nl
      .listLinks()
      .map((l) => `${l.index}:${l.name}`)
      .sort();
    const theirs = ns
      .ipJson<{ ifindex: number; ifname: string }[]>('link', 'show')
      .map((l) => `${l.ifindex}:${l.ifname}`)
      .sort();
    expect(ours).toEqual(theirs);
    expect(ours.some((s) => s.endsWith(':zt0'))).toBe(true);
    const byName = nl.getLink('zt0');
    expect(byName).toMatchObject({
      index: ifIndex.zt0,
      kind: 'tun',
      pointToPoint: true,
      hardwareType: 65534,
    });
    expect(nl.getLink(ifIndex.zt0!)).toEqual(byName);
  });

  it('setLink: MTU and up/down, as `ip -j link` sees them', () => {
    const zt0 = ifIndex.zt0!;
    nl.setLink(zt0, { mtu: 1400, up: true });
    let j = ns.ipJson<{ mtu: number; flags: string[] }[]>('link', 'show', 'zt0')[0]!;
    expect(j.mtu).toBe(1400);
    expect(j.flags).toContain('UP');
    expect(nl.getLink('zt0')).toMatchObject({ mtu: 1400, up: true });
    nl.setLink(zt0, { up: false });
    j = ns.ipJson<{ mtu: number; flags: string[] }[]>('link', 'show', 'zt0')[0]!;
    expect(j.flags).not.toContain('UP');
    nl.setLink(zt0, { up: true, mtu: 9000 });
    nl.setLink(ifIndex.ve0!, { up: true });
    expect(ns.ipJson<{ mtu: number }[]>('link', 'show', 'zt0')[0]!.mtu).toBe(9000);
  });

  it('deleteLink removes a link (veth pair here); a missing one is ENODEV', () => {
    ns.ip('link', 'add', 'vdel0', 'type', 'veth', 'peer', 'name', 'vdel1');
    const index = nl.getLink('vdel0').index;
    nl.deleteLink(index);
    const names = ns.ipJson<{ ifname: string }[]>('link', 'show').map((l) => l.ifname);
    expect(names).not.toContain('vdel0');
    expect(names).not.toContain('vdel1'); // the peer goes with it
    expect(caught(() => nl.deleteLink(index))).toMatchObject({
      code: 'ENODEV',
      operation: `link delete #${index}`,
    });
  });

  it('addresses: IPv4, IPv4 peer, IPv6, IPv6 peer — added, listed, compared with `ip -j addr`, deleted', () => {
    const zt0 = ifIndex.zt0!;
    nl.addAddress({ index: zt0, cidr: '10.210.1.1/24' });
    nl.addAddress({ index: zt0, cidr: '10.210.2.1', peer: '10.210.2.2/32' });
    nl.addAddress({ index: zt0, cidr: 'fd00:210::1/64' });
    nl.addAddress({ index: zt0, cidr: 'fd00:211::1/128', peer: 'fd00:211::2' });
    nl.addAddress({ index: ifIndex.ve0!, cidr: '10.210.0.1/24' });

    type IpAddr = { family: string; local: string; address?: string; prefixlen: number; tentative?: boolean };
    const ipAddrs = () => ns.ipJson<{ addr_info: IpAddr[] }[]>('addr', 'show', 'dev', 'zt0')[0]!.addr_info;
    const theirs = ipAddrs()
      .map((a) => `${a.local}/${a.prefixlen} peer ${a.address ?? '-'}`)
      .sort();
    const ours = nl
      .listAddresses({ index: zt0 })
      .map((a) => `${a.cidr} peer ${a.peer ?? '-'}`)
      .sort();
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(
      expect.arrayContaining([
        '10.210.1.1/24 peer -',
        '10.210.2.1/32 peer 10.210.2.2',
        'fd00:210::1/64 peer -',
        'fd00:211::1/128 peer fd00:211::2',
      ]),
    );
    // nodad by default for IPv6: usable at once, never tentative.
    expect(
      ipAddrs().filter((a) => a.family === 'inet6' && a.local.startsWith('fd00') && a.tentative),
    ).toEqual([]);
    expect(nl.listAddresses({ family: 6, index: zt0 }).every((a) => a.family === 6)).toBe(true);

    expect(caught(() => nl.addAddress({ index: zt0, cidr: '10.210.1.1/24' }))).toMatchObject({
      code: 'EEXIST',
      operation: `address add 10.210.1.1/24 dev #${zt0}`,
    });
    nl.deleteAddress({ index: zt0, cidr: '10.210.2.1', peer: '10.210.2.2/32' });
    nl.deleteAddress({ index: zt0, cidr: 'fd00:211::1/128', peer: 'fd00:211::2' });
    const left = ipAddrs().map((a) => a.local);
    expect(left).not.toContain('10.210.2.1');
    expect(left).not.toContain('fd00:211::1');
    expect(left).toContain('10.210.1.1');
    const gone = caught(() => nl.deleteAddress({ index: zt0, cidr: '10.210.2.1/32' }));
    expect(gone.code).toBe('EADDRNOTAVAIL');
    expect(gone.message).toContain('address delete 10.210.2.1/32');
  });

  it('routes: add/replace/delete in both families, custom tables (> 255 too), metric, gateway, types', () => {
    const zt0 = ifIndex.zt0!;
    nl.addRoute({ dst: '10.220.0.0/16', oif: zt0 });
    nl.addRoute({ dst: '10.221.0.0/16', gateway: '10.210.0.2', table: 1000, metric: 50 });
    nl.addRoute({ dst: '10.221.0.0/16', oif: zt0, table: 1000, metric: 60 });
    nl.addRoute({ dst: 'default', family: 4, oif: zt0, table: 100 });
    nl.addRoute({ dst: 'fd00:220::/48', oif: zt0 });
    nl.addRoute({ dst: 'fd00:221::/48', oif: zt0, table: 70000, metric: 5 });
    nl.addRoute({ dst: 'default', family: 6, type: 'unreachable', table: 100 });
    nl.addRoute({ dst: '10.222.0.0/24', type: 'blackhole', table: 100 });
    nl.addRoute({ dst: '10.223.0.0/24', type: 'throw', table: 100 });
    nl.addRoute({ dst: 'fd00:222::/64', type: 'blackhole' });
    const all = sameRoutesAsIproute2();
    expect(all).toEqual(
      expect.arrayContaining([
        '10.221.0.0/16 unicast 10.210.0.2 ve0 1000 50',
        '10.221.0.0/16 unicast - zt0 1000 60',
        'fd00:221::/48 unicast - zt0 70000 5',
        '0.0.0.0/0 unicast - zt0 100 -',
        '10.222.0.0/24 blackhole - - 100 -',
      ]),
    );
    expect(all).toHaveLength(10);

    // Replace swaps the next hop of the same (dst, table, metric) in place.
    nl.replaceRoute({ dst: '10.221.0.0/16', oif: zt0, table: 1000, metric: 50 });
    nl.replaceRoute({ dst: 'fd00:220::/48', oif: ifIndex.ve0! });
    nl.replaceRoute({ dst: '10.224.0.0/16', oif: zt0, table: 1000 }); // replace creates when missing
    const after = sameRoutesAsIproute2();
    expect(after).toContain('10.221.0.0/16 unicast - zt0 1000 50');
    expect(after).not.toContain('10.221.0.0/16 unicast 10.210.0.2 ve0 1000 50');
    expect(after).toContain('fd00:220::/48 unicast - ve0 254 1024');
    expect(after).toContain('10.224.0.0/16 unicast - zt0 1000 -');

    // Dumps read back what iproute2 reads, fields included.
    const r = nl.listRoutes({ family: 6, table: 70000 });
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({
      family: 6,
      dst: 'fd00:221::/48',
      oif: zt0,
      table: 70000,
      metric: 5,
      protocol: ZTUN_RT_PROTOCOL,
    });

    nl.deleteRoute({ dst: '10.221.0.0/16', table: 1000, metric: 60 });
    nl.deleteRoute({ dst: 'fd00:221::/48', table: 70000, metric: 5 });
    nl.deleteRoute({ dst: 'default', family: 6, type: 'unreachable', table: 100 });
    const final = sameRoutesAsIproute2();
    expect(final).toHaveLength(8);
    expect(final.some((k) => k.startsWith('fd00:221::/48'))).toBe(false);
  });

  it('route errors are typed and name the operation: EEXIST, ESRCH, ENODEV, bad CIDR', () => {
    const zt0 = ifIndex.zt0!;
    nl.addRoute({ dst: '10.230.0.0/16', oif: zt0, table: 200 });
    const dup = caught(() => nl.addRoute({ dst: '10.230.0.0/16', oif: zt0, table: 200 }));
    expect(dup).toMatchObject({
      code: 'EEXIST',
      errno: 17,
      operation: `route add 10.230.0.0/16 dev #${zt0} table 200`,
    });
    expect(dup.message).toMatch(/route add 10\.230\.0\.0\/16 .*EEXIST/);
    const dup6 = caught(() => {
      nl.addRoute({ dst: 'fd00:230::/48', oif: zt0 });
      nl.addRoute({ dst: 'fd00:230::/48', oif: zt0 });
    });
    expect(dup6.code).toBe('EEXIST');
    expect(caught(() => nl.deleteRoute({ dst: '10.231.0.0/16', table: 200 }))).toMatchObject({
      code: 'ESRCH',
      operation: 'route delete 10.231.0.0/16 table 200',
    });
    expect(caught(() => nl.deleteRoute({ dst: 'fd00:231::/48' })).code).toBe('ESRCH');
    // A route tagged by someone else is not ours to delete by default.
    ns.ip('route', 'add', '10.232.0.0/16', 'dev', 'zt0', 'proto', 'static');
    expect(caught(() => nl.deleteRoute({ dst: '10.232.0.0/16' })).code).toBe('ESRCH');
    nl.deleteRoute({ dst: '10.232.0.0/16', protocol: 4 });
    expect(caught(() => nl.addRoute({ dst: '10.233.0.0/16', oif: 99999 })).code).toBe('ENODEV');
    expect(caught(() => nl.getLink('nosuchlink0'))).toMatchObject({
      code: 'ENODEV',
      operation: 'link get nosuchlink0',
    });
    expect(caught(() => nl.setLink(99999, { up: true })).code).toBe('ENODEV');
    expect(() => nl.addRoute({ dst: '10.234.0.0/99', oif: zt0 })).toThrow(RoutingInputError);
    expect(() => nl.addRoute({ dst: '10.234.0.0/99', oif: zt0 })).toThrow(
      /route add 10\.234\.0\.0\/99.*not a valid CIDR/,
    );
  });

  const ipRuleKey = (r: IpRule) =>
    [
      r.priority,
      r.not === null ? 'not' : '',
      r.src === 'all' ? 'all' : `${r.src}/${r.srclen ?? (r.src.includes(':') ? 128 : 32)}`,
      r.dst ? `${r.dst}/${r.dstlen ?? (r.dst.includes(':') ? 128 : 32)}` : '-',
      r.fwmark ?? '-',
      r.fwmask ?? '-',
      r.iif ?? '-',
      r.oif ?? '-',
      r.table !== undefined ? (TABLE_NAMES[r.table] ?? Number(r.table)) : r.action,
      r.suppress_prefixlen ?? '-',
    ].join(' ');
  const ourRuleKey = (r: RuleInfo) =>
    [
      r.priority,
      r.invert ? 'not' : '',
      r.src ?? 'all',
      r.dst ?? '-',
      r.fwmark !== undefined ? `0x${r.fwmark.toString(16)}` : '-',
      r.fwmask !== undefined && r.fwmask !== 0xffffffff ? `0x${r.fwmask.toString(16)}` : '-',
      r.iif ?? '-',
      r.oif ?? '-',
      r.action === 'lookup' ? r.table : r.action,
      r.suppressPrefixLength ?? '-',
    ].join(' ');

  it('rules: priority, fwmark/mask, not, suppress_prefixlength, iif/oif, from/to, actions — as `ip -j rule` sees them', () => {
    nl.addRule({ family: 4, priority: 2601, table: 1000, fwmark: 0x10, fwmask: 0xff, invert: true });
    nl.addRule({ family: 4, priority: 2602, table: 254, suppressPrefixLength: 0 });
    nl.addRule({
      family: 4,
      priority: 2603,
      table: 100,
      src: '10.1.0.0/16',
      dst: '10.2.0.0/16',
      iif: 'lo',
      oif: 'zt0',
    });
    nl.addRule({ family: 4, priority: 2604, action: 'unreachable', dst: '10.3.0.0/16' });
    nl.addRule({ family: 4, priority: 2605, table: 70000, fwmark: 7 });
    nl.addRule({ family: 6, priority: 2601, table: 1000, fwmark: 0x10, fwmask: 0xff, invert: true });
    nl.addRule({ family: 6, priority: 2602, table: 254, suppressPrefixLength: 0 });
    nl.addRule({ family: 6, priority: 2603, table: 100, src: 'fd00:1::/64', dst: 'fd00:2::/64', oif: 'zt0' });
    nl.addRule({ family: 6, priority: 2604, action: 'blackhole', src: 'fd00:3::/64' });
    for (const family of [4, 6] as const) {
      const ours = nl.listRules({ family }).map(ourRuleKey).sort();
      const theirs = ns.ipJson<IpRule[]>(`-${family}`, 'rule', 'show').map(ipRuleKey).sort();
      expect(ours).toEqual(theirs);
    }
    expect(nl.listRules({ family: 4 }).find((r) => r.priority === 2605)).toMatchObject({
      table: 70000,
      fwmark: 7,
      protocol: ZTUN_RT_PROTOCOL,
    });
    expect(nl.listRules({ family: 4 }).map(ourRuleKey)).toContain('2601 not all - 0x10 0xff - - 1000 -');
    expect(nl.listRules({ family: 6 }).map(ourRuleKey)).toContain(
      '2603  fd00:1::/64 fd00:2::/64 - - - zt0 100 -',
    );

    const dup = caught(() => nl.addRule({ family: 4, priority: 2602, table: 254, suppressPrefixLength: 0 }));
    expect(dup).toMatchObject({
      code: 'EEXIST',
      operation: 'rule add -4 priority 2602 lookup 254 suppress_prefixlength 0',
    });
    nl.deleteRule({
      family: 4,
      priority: 2603,
      table: 100,
      src: '10.1.0.0/16',
      dst: '10.2.0.0/16',
      iif: 'lo',
      oif: 'zt0',
    });
    nl.deleteRule({ family: 6, priority: 2604, action: 'blackhole', src: 'fd00:3::/64' });
    const prios4 = ns.ipJson<IpRule[]>('-4', 'rule', 'show').map((r) => r.priority);
    expect(prios4).not.toContain(2603);
    expect(prios4).toContain(2602);
    expect(ns.ipJson<IpRule[]>('-6', 'rule', 'show').map((r) => r.priority)).not.toContain(2604);
    const missing = caught(() => nl.deleteRule({ family: 4, priority: 2699, table: 5 }));
    expect(missing.code).toBe('ENOENT');
    expect(missing.message).toContain('rule delete -4 priority 2699 lookup 5');
  });

  it('flushZtun removes exactly the tagged routes and the rules in the ztun range, both families', () => {
    // Foreign state that must survive: other protocols, priorities just outside the range.
    ns.ip('route', 'add', '10.240.0.0/16', 'dev', 'zt0', 'table', '1000', 'proto', 'static');
    ns.ip('-6', 'route', 'add', 'fd00:240::/48', 'dev', 'zt0', 'proto', 'boot');
    ns.ip('rule', 'add', 'priority', String(ZTUN_RULE_PRIORITY_MIN - 1), 'table', '1000');
    ns.ip('rule', 'add', 'priority', String(ZTUN_RULE_PRIORITY_MAX + 1), 'table', '1000');
    // Tagged state installed by another client (a crashed earlier run, say): must go too.
    ns.ip('route', 'add', '10.241.0.0/16', 'dev', 'zt0', 'table', '300', 'proto', String(ZTUN_RT_PROTOCOL));
    ns.ip('-6', 'rule', 'add', 'priority', String(ZTUN_RULE_PRIORITY_MAX), 'table', '1000');

    const taggedRoutes = ipRoutes(4).length + ipRoutes(6).length;
    const inRange = (r: IpRule) =>
      r.priority >= ZTUN_RULE_PRIORITY_MIN && r.priority <= ZTUN_RULE_PRIORITY_MAX;
    const rangeRules =
      ns.ipJson<IpRule[]>('-4', 'rule', 'show').filter(inRange).length +
      ns.ipJson<IpRule[]>('-6', 'rule', 'show').filter(inRange).length;
    const otherRoutes = (family: 4 | 6) =>
      ns
        .ipJson<IpRoute[]>(`-${family}`, 'route', 'show', 'table', 'all')
        .filter((r) => r.protocol !== String(ZTUN_RT_PROTOCOL))
        .map((r) => ipRouteKey(r, family))
        .sort();
    const before4 = otherRoutes(4);
    const before6 = otherRoutes(6);
    expect(taggedRoutes).toBeGreaterThan(5);
    expect(rangeRules).toBeGreaterThan(5);

    expect(nl.flushZtun()).toEqual({ routes: taggedRoutes, rules: rangeRules });
    expect(ipRoutes(4)).toEqual([]);
    expect(ipRoutes(6)).toEqual([]);
    expect(otherRoutes(4)).toEqual(before4);
    expect(otherRoutes(6)).toEqual(before6);
    expect(before4).toContain('10.240.0.0/16 unicast - zt0 1000 -');
    const prios = ns.ipJson<IpRule[]>('rule', 'show').map((r) => r.priority);
    expect(prios.filter((p) => p >= ZTUN_RULE_PRIORITY_MIN && p <= ZTUN_RULE_PRIORITY_MAX)).toEqual([]);
    expect(prios).toEqual(
      expect.arrayContaining([0, ZTUN_RULE_PRIORITY_MIN - 1, ZTUN_RULE_PRIORITY_MAX + 1, 32766]),
    );
    expect(nl.flushZtun()).toEqual({ routes: 0, rules: 0 });
  });

  it('no fd is left open: open/close, failing requests, and opening inside the namespace', () => {
    const before = fdCount();
    for (let i = 0; i < 20; i++) {
      const c = runInNetns(ns, () => RtNetlink.open());
      expect(() => c.getLink('nosuchlink0')).toThrow(NetlinkError);
      c.listRoutes();
      c.close();
      c.close();
    }
    expect(() => RtNetlink.open({ timeoutMs: -1 })).toThrow(RoutingInputError);
    expect(fdCount()).toBe(before);
  });

  it('without CAP_NET_ADMIN: changes fail with EPERM naming the operation (child process, capabilities dropped)', () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const srcDir = fileURLToPath(new URL('../src', import.meta.url));
    const newestSrc = Math.max(
      ...readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).map(
        (f) => statSync(join(srcDir, f)).mtimeMs,
      ),
    );
    let distTime = 0;
    try {
      distTime = statSync(dist).mtimeMs;
    } catch {}
    if (distTime < newestSrc)
      throw new Error(`${dist} is missing or older than src/: run \`npx tsup\` in packages/routing-linux`);
    const dir = mkdtempSync(join(tmpdir(), 'ztun-rl-'));
    try {
      const script = join(dir, 'eperm.mjs');
      writeFileSync(
        script,
        `import { RtNetlink } from ${JSON.stringify(dist)};
const nl = RtNetlink.open();
const out = { read: nl.getLink('zt0').name };
for (const [k, fn] of [
  ['route', () => nl.addRoute({ dst: '10.250.0.0/16', oif: ${ifIndex.zt0} })],
  ['rule', () => nl.addRule({ family: 4, priority: 2650, table: 100 })],
  ['link', () => nl.setLink(${ifIndex.zt0}, { mtu: 1300 })],
]) {
  try { fn(); out[k] = 'succeeded'; } catch (e) { out[k] = { name: e.name, code: e.code, errno: e.errno, operation: e.operation, message: e.message }; }
}
nl.close();
console.log(JSON.stringify(out));
`,
      );
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          ns.name,
          'setpriv',
          '--inh-caps=-all',
          '--bounding-set=-net_admin',
          process.execPath,
          script,
        ],
        { encoding: 'utf8', timeout: 20000 },
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.read).toBe('zt0'); // reading needs no capability
      expect(out.route).toMatchObject({
        name: 'NetlinkError',
        code: 'EPERM',
        errno: 1,
        operation: `route add 10.250.0.0/16 dev #${ifIndex.zt0}`,
      });
      expect(out.route.message).toMatch(/route add 10\.250\.0\.0\/16.*EPERM/);
      expect(out.rule).toMatchObject({ code: 'EPERM', operation: 'rule add -4 priority 2650 lookup 100' });
      expect(out.link).toMatchObject({ code: 'EPERM', operation: `link set #${ifIndex.zt0} mtu 1300` });
      expect(ns.ipJson<{ mtu: number }[]>('link', 'show', 'zt0')[0]!.mtu).toBe(9000);
      expect(ns.ipJson<IpRoute[]>('route', 'show', '10.250.0.0/16')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
