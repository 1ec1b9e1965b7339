import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { applyLines, buildPlan, formatPlan, undoLines } from '../src/platform/plan.linux.js';

// The CLI's Linux plan: the TUN's changes plus @ztun/routing-linux's auto-route plan (whose own tests are in
// packages/routing-linux/test/auto-route-plan.test.ts). These lines are exactly what --dry-run prints.

const tags = { routeProtocol: 188, rulePriorityMin: 9000, rulePriorityMax: 9099 };
const lines = (flags: Parameters<typeof resolveConfig>[0], proxyAddrs: string[] = []) =>
  applyLines(buildPlan(resolveConfig(flags), proxyAddrs, tags));

describe('buildPlan', () => {
  it('without routes: device, addresses, up — and no rules', () => {
    expect(lines({})).toEqual([
      'ip tuntap add dev ztun0 mode tun && ip link set ztun0 mtu 65520 txqueuelen 4096',
      'ip addr add 198.18.0.1/15 dev ztun0',
      'ip link set ztun0 addrgenmode none && ip link set ztun0 up',
    ]);
  });

  it('a transmit queue other than the kernel default is set with the MTU', () => {
    expect(lines({ mtu: '1500' })[0]).toBe(
      'ip tuntap add dev ztun0 mode tun && ip link set ztun0 mtu 1500 txqueuelen 4096',
    );
  });

  it('--route: prefixes in the ztun table, unmarked traffic looks it up (marked traffic cannot loop)', () => {
    expect(lines({ route: ['10.203.0.0/16', '10.204.0.0/16'] }).slice(3)).toEqual([
      'ip -4 route add 10.203.0.0/16 dev ztun0 table 31348 proto 188',
      'ip -4 route add 10.204.0.0/16 dev ztun0 table 31348 proto 188',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
  });

  it('--auto-route IPv4+IPv6: default routes, bypass rules, suppress rule, fwmark rule per family', () => {
    const got = lines(
      {
        address: ['198.18.0.1/15', 'fd00:7a74::1/64'],
        'auto-route': true,
        exclude: ['192.168.0.0/16', 'fd12::/16'],
        proxy: 'socks5://203.0.113.5:1080',
      },
      ['203.0.113.5', '2001:db8::5'],
    );
    expect(got).toEqual([
      'ip tuntap add dev ztun0 mode tun && ip link set ztun0 mtu 65520 txqueuelen 4096',
      'ip addr add 198.18.0.1/15 dev ztun0',
      'ip addr add fd00:7a74::1/64 dev ztun0',
      'ip link set ztun0 addrgenmode none && ip link set ztun0 up',
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

  it('--kill-switch: an unreachable twin of each routed prefix outlives the TUN; an IPv4-only auto-route refuses IPv6', () => {
    expect(lines({ 'auto-route': true, 'kill-switch': true, ipv6: false }).slice(3)).toEqual([
      'ip -4 route add default dev ztun0 table 31348 proto 188',
      'ip -4 route add unreachable default table 31348 proto 188 metric 31348',
      'ip -6 route add unreachable default table 31348 proto 188 metric 31348',
      'ip -4 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
      'ip -6 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -6 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
    expect(lines({ route: ['10.203.0.0/16'], 'kill-switch': true }).slice(3)).toEqual([
      'ip -4 route add 10.203.0.0/16 dev ztun0 table 31348 proto 188',
      'ip -4 route add unreachable 10.203.0.0/16 table 31348 proto 188 metric 31348',
      'ip -4 rule add pref 9002 not fwmark 0x7a74 lookup 31348',
    ]);
    const plan = buildPlan(resolveConfig({ 'auto-route': true, 'kill-switch': true, ipv6: false }), [], tags);
    expect(plan.notes.join('\n')).toMatch(/IPv6 is refused by --kill-switch/);
    expect(undoLines(plan)).toContain(
      'ip -4 route del unreachable default table 31348 proto 188 metric 31348',
    );
    expect(
      formatPlan(
        resolveConfig({ 'auto-route': true, ipv6: false }),
        buildPlan(resolveConfig({ 'auto-route': true, ipv6: false }), [], tags),
      ),
    ).toContain('fail-open if ztun dies');
  });

  it('--auto-route without --address captures IPv6 too (a ULA beside 198.18.0.1/15); --no-ipv6 leaves it out', () => {
    const got = lines({ 'auto-route': true });
    expect(got.slice(1, 3)).toEqual([
      'ip addr add 198.18.0.1/15 dev ztun0',
      'ip addr add fd7a:7a74::1/64 dev ztun0',
    ]);
    expect(got).toContain('ip -6 route add default dev ztun0 table 31348 proto 188');
    expect(lines({ 'auto-route': true, ipv6: false }).join('\n')).not.toMatch(/fd7a|ip -6/);
    // Without --auto-route the default stays IPv4 only (nothing is captured by default).
    expect(lines({}).join('\n')).not.toContain('fd7a');
  });

  it('every rule stays inside the ztun priority range and every route carries the ztun protocol', () => {
    const plan = buildPlan(
      resolveConfig({ address: ['10.9.0.1/24', 'fd00::1/64'], 'auto-route': true, route: ['10.0.0.0/8'] }),
      [],
      tags,
    );
    for (const s of plan.routing.steps) {
      if (s.kind === 'rule') {
        expect(s.rule.priority).toBeGreaterThanOrEqual(tags.rulePriorityMin);
        expect(s.rule.priority).toBeLessThanOrEqual(tags.rulePriorityMax);
      }
      if (s.kind === 'route') expect(s.route.protocol).toBe(tags.routeProtocol);
    }
  });

  it('IPv4-only auto-route says IPv6 is not captured; a proxy outside the routed prefixes gets no rule', () => {
    const plan = buildPlan(
      resolveConfig({ route: ['10.0.0.0/8'], proxy: 'socks5://192.0.2.1:1080', exclude: ['fd00::/8'] }),
      ['192.0.2.1'],
      tags,
    );
    expect(plan.routing.steps.filter((s) => s.kind === 'rule')).toHaveLength(1);
    expect(plan.notes.join('\n')).toMatch(/--exclude fd00::\/8 has no effect/);
    const auto = buildPlan(resolveConfig({ 'auto-route': true, ipv6: false }), [], tags);
    expect(auto.notes.join('\n')).toMatch(/IPv6 is not captured/);
    // An IPv6-only tunnel says the same of IPv4 (before the plan moved to @ztun/routing-linux it said nothing).
    const v6only = buildPlan(resolveConfig({ 'auto-route': true, address: ['fd00::1/64'] }), [], tags);
    expect(v6only.notes).toEqual(['IPv4 is not captured by --auto-route: the tunnel has no IPv4 --address']);
  });

  it('a route given twice (or the default with --auto-route) is added once', () => {
    const got = lines({ 'auto-route': true, ipv6: false, route: ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/8'] });
    expect(got.filter((l) => l.includes('route add'))).toEqual([
      'ip -4 route add default dev ztun0 table 31348 proto 188',
      'ip -4 route add 10.0.0.0/8 dev ztun0 table 31348 proto 188',
    ]);
  });

  it('an exclude given twice, or equal to the proxy address, becomes one rule', () => {
    const got = lines(
      {
        route: ['10.0.0.0/8'],
        exclude: ['10.1.0.0/16', '10.1.0.0/16', '10.9.9.9'],
        proxy: 'socks5://10.9.9.9:1',
      },
      ['10.9.9.9'],
    );
    expect(got.filter((l) => l.includes('pref 9000'))).toEqual([
      'ip -4 rule add pref 9000 to 10.9.9.9/32 lookup main',
      'ip -4 rule add pref 9000 to 10.1.0.0/16 lookup main',
    ]);
  });

  it('undo runs in exact reverse and deletes what was added', () => {
    const plan = buildPlan(resolveConfig({ 'auto-route': true, ipv6: false }), [], tags);
    expect(undoLines(plan)).toEqual([
      'ip -4 rule del pref 9002 not fwmark 0x7a74 lookup 31348',
      'ip -4 rule del pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 route del default dev ztun0 table 31348 proto 188',
      'ip addr del 198.18.0.1/15 dev ztun0',
      'ip link del ztun0',
    ]);
  });

  it('formatPlan prints the changes, the stack, the teardown and the notes', () => {
    const config = resolveConfig({ 'auto-route': true, pcap: '/tmp/x.pcap', ipv6: false });
    const text = formatPlan(config, buildPlan(config, [], tags));
    expect(text).toMatch(/^# ztun run --dry-run: 6 changes; nothing was changed\n/);
    expect(text).toContain('# then: start the stack on ztun0 (proxy direct, outbound SO_MARK 0x7a74');
    expect(text).toContain('pcap /tmp/x.pcap');
    expect(text).toContain('# on SIGINT/SIGTERM, in this order:\nip -4 rule del pref 9002');
    expect(text).toContain('# note: IPv6 is not captured');
  });

  it('refuses a priority range too small for its rules', () => {
    expect(() =>
      buildPlan(resolveConfig({}), [], { routeProtocol: 1, rulePriorityMin: 10, rulePriorityMax: 11 }),
    ).toThrow(/fewer than 3 rules/);
  });
});
