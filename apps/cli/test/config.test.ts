import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cidrContains, formatCidr, ipFamily, networkOf, parseCidr } from '../src/cidr.js';
import {
  ConfigError,
  DEFAULT_MTU,
  DEFAULT_OFFLOAD,
  describeProxy,
  readConfigFile,
  redact,
  resolveConfig,
} from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'ztun-cfg-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('cidr', () => {
  it('parses and canonicalises IPv4 and IPv6', () => {
    expect(formatCidr(parseCidr('198.18.0.1/15'))).toBe('198.18.0.1/15');
    expect(formatCidr(parseCidr('FD00:0:0::1/64'))).toBe('fd00::1/64');
    // IPv4-mapped addresses keep the dotted quad (RFC 5952 §5), as @ztun/packet formats them.
    expect(formatCidr(parseCidr('::ffff:10.0.0.1/128'))).toBe('::ffff:10.0.0.1/128');
    expect(formatCidr(parseCidr('2001:db8:0:1:0:0:0:1/64'))).toBe('2001:db8:0:1::1/64');
    expect(formatCidr(networkOf(parseCidr('10.1.2.3/8')))).toBe('10.0.0.0/8');
    expect(formatCidr(networkOf(parseCidr('fd00:1:2::9/33')))).toBe('fd00:1::/33');
    expect(formatCidr(parseCidr('1.2.3.4', { bareIsHost: true }))).toBe('1.2.3.4/32');
  });
  it('tells IP literals from host names', () => {
    expect(ipFamily('198.18.0.1')).toBe(4);
    expect(ipFamily('fd00::1')).toBe(6);
    expect(ipFamily('fe80::1%eth0')).toBe(6);
    for (const name of ['proxy.example', 'localhost', '10.0.0.256', '01.2.3.4', '', 'fe80::1%']) {
      expect(ipFamily(name)).toBe(0);
    }
  });

  it('rejects what is not a CIDR, saying why', () => {
    expect(() => parseCidr('10.0.0.256/8')).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/prefix length must be 0..32/);
    expect(() => parseCidr('fd00::/129')).toThrow(/0..128/);
    expect(() => parseCidr('10.0.0.1')).toThrow(/missing '\/prefix-length'/);
    expect(() => parseCidr('10.0.0.1/-1')).toThrow(/prefix length/);
    expect(() => parseCidr('fe80::1%eth0/64')).toThrow(/not an IPv4 or IPv6/);
  });
  it('contains', () => {
    expect(cidrContains(parseCidr('10.0.0.0/8'), '10.200.1.1')).toBe(true);
    expect(cidrContains(parseCidr('10.0.0.0/8'), '11.0.0.1')).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), '1.2.3.4')).toBe(true);
    expect(cidrContains(parseCidr('0.0.0.0/0'), '::1')).toBe(false);
    expect(cidrContains(parseCidr('fd00::/8'), 'fdff::1')).toBe(true);
  });
});

describe('resolveConfig', () => {
  it('has documented defaults', () => {
    const c = resolveConfig({});
    expect(c.name).toBe('ztun0');
    expect(c.addresses.map(formatCidr)).toEqual(['198.18.0.1/15']);
    expect(c.mtu).toBe(DEFAULT_MTU);
    expect(c.proxy).toEqual({ kind: 'direct' });
    expect(c.autoRoute).toBe(false);
    expect(c.icmp).toBe('reply');
    expect(c.udpTimeoutMs).toBe(60_000);
    expect(c.logLevel).toBe('info');
    expect(c.statsIntervalMs).toBeUndefined();
  });

  it('parses socks5 URLs with and without credentials, IPv6 hosts included', () => {
    expect(resolveConfig({ proxy: 'socks5://127.0.0.1:1080' }).proxy).toEqual({
      kind: 'socks5',
      host: '127.0.0.1',
      port: 1080,
    });
    expect(resolveConfig({ proxy: 'socks5://u%40x:p%3Aw@[fd00::2]:1080' }).proxy).toEqual({
      kind: 'socks5',
      host: 'fd00::2',
      port: 1080,
      username: 'u@x',
      password: 'p:w',
    });
    expect(describeProxy(resolveConfig({ proxy: 'socks5://u:secret@h.example:9' }).proxy)).toBe(
      'socks5://u:***@h.example:9',
    );
    expect(redact('socks5://u:secret@h:1')).toBe('socks5://u:***@h:1');
  });

  it('decodes percent-encoded credentials; a raw @ or / in a password never leaks into an error', () => {
    const pw = 'p@ss:w/rd%1 é';
    expect(
      resolveConfig({ proxy: `socks5://ztun%2Buser:${encodeURIComponent(pw)}@10.0.0.1:1080` }).proxy,
    ).toEqual({ kind: 'socks5', host: '10.0.0.1', port: 1080, username: 'ztun+user', password: pw });
    // WHATWG URLs end the user info at the last @, so a raw @ in the password still parses.
    expect(resolveConfig({ proxy: 'socks5://u:p@ss@h:1' }).proxy).toMatchObject({
      username: 'u',
      password: 'p@ss',
    });
    expect(redact('socks5://u:p@ss@h:1/x')).toBe('socks5://u:***@h:1/x');
    expect(redact('socks5://u:pa/ss@h:1')).toBe('socks5://u:***@h:1');
    expect(redact('socks5://u@h:1/x')).toBe('socks5://u@h:1/x');
    for (const proxy of [
      'socks5://u:p@SECRET@h:1/x',
      'socks5://u:pa/SECRET@h:1',
      'socks5://u:p%40SECRET@h',
      'socks5://u:SECRET@bad_host:1',
    ]) {
      let message = '';
      try {
        resolveConfig({ proxy });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, proxy).toMatch(/^--proxy: 'socks5:\/\/u:\*\*\*@/);
      expect(message).not.toMatch(/SEC/);
    }
  });

  it.each([
    [{ proxy: 'http://h:1' }, /--proxy: 'http:\/\/h:1' has scheme 'http'/],
    [{ proxy: 'socks5://h' }, /has no port/],
    [{ proxy: 'socks5://h:99999' }, /is not a URL/],
    [{ proxy: 'socks5://u:pw@h:1/x' }, /'socks5:\/\/u:\*\*\*@h:1\/x' has a path/],
    [{ proxy: 'nonsense' }, /is not a URL/],
    [{ address: ['10.0.0.1/24', 'bad'] }, /--address: 'bad' is not a CIDR/],
    [{ address: ['fd00::1/128'] }, /leaves no room/],
    [{ route: ['10.0.0.0/40'] }, /--route: '10.0.0.0\/40' is not a CIDR: prefix length must be 0..32/],
    [{ exclude: ['x'] }, /--exclude: 'x' is not a CIDR/],
    [{ mtu: '1000', address: ['fd00::1/64'] }, /--mtu: '1000' is not an integer in 1280..65535/],
    [{ mtu: 'big' }, /--mtu: 'big' is not an integer/],
    [{ name: 'this-name-is-too-long' }, /--name: .* not a valid interface name/],
    [{ name: 'a b' }, /not a valid interface name/],
    [{ 'udp-timeout': '0' }, /--udp-timeout: '0' is not a duration/],
    [{ 'stats-interval': 'soon' }, /--stats-interval: 'soon' is not a duration/],
    [{ 'log-level': 'loud' }, /--log-level: 'loud' is not one of error, warn, info, debug/],
    [{ icmp: 'echo' }, /--icmp: 'echo' is not one of reply, off/],
    [{ route: ['fd00::/8'] }, /--route: 'fd00::\/8' is IPv6 but the tunnel has no IPv6 --address/],
    [{ table: '0' }, /--table: '0' is not an integer in 1..4294967295/],
  ])('rejects %j with one clear line', (flags, message) => {
    let err: unknown;
    try {
      resolveConfig(flags);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('durations accept units; stats interval may be 0', () => {
    expect(resolveConfig({ 'udp-timeout': '90' }).udpTimeoutMs).toBe(90_000);
    expect(resolveConfig({ 'udp-timeout': '500ms' }).udpTimeoutMs).toBe(500);
    expect(resolveConfig({ 'udp-timeout': '2m' }).udpTimeoutMs).toBe(120_000);
    expect(resolveConfig({ 'stats-interval': '0' }).statsIntervalMs).toBe(0);
    expect(resolveConfig({ fwmark: '0x10' }).fwmark).toBe(16);
  });

  it('splice is on unless turned off; a non-boolean is refused', () => {
    expect(resolveConfig({}).splice).toBe(true);
    expect(resolveConfig({ splice: false }).splice).toBe(false);
    expect(resolveConfig({}, { path: 'z.yaml', values: { splice: false } }).splice).toBe(false);
    expect(() => resolveConfig({ splice: 'maybe' })).toThrow(/splice: expected true or false/);
  });

  it('offload follows DEFAULT_OFFLOAD unless set; a non-boolean is refused', () => {
    expect(resolveConfig({}).offload).toBe(DEFAULT_OFFLOAD);
    expect(resolveConfig({ offload: false }).offload).toBe(false);
    expect(resolveConfig({}, { path: 'z.yaml', values: { offload: false } }).offload).toBe(false);
    expect(() => resolveConfig({ offload: 'maybe' })).toThrow(/offload: expected true or false/);
  });

  it('txqueuelen: 4096 packets by default at every MTU, or as given', () => {
    expect(resolveConfig({}).txQueueLen).toBe(4096);
    expect(resolveConfig({ mtu: '1500' }).txQueueLen).toBe(4096);
    expect(resolveConfig({ mtu: '9000' }).txQueueLen).toBe(4096);
    expect(resolveConfig({ mtu: '1500', txqueuelen: '1000' }).txQueueLen).toBe(1000);
    expect(() => resolveConfig({ txqueuelen: '0' })).toThrow(
      /--txqueuelen: '0' is not an integer in 1\.\.100000/,
    );
  });

  it('kill-switch is off unless set (flag or file key); a non-boolean is refused', () => {
    expect(resolveConfig({}).killSwitch).toBe(false);
    expect(resolveConfig({ 'kill-switch': true }).killSwitch).toBe(true);
    expect(resolveConfig({}, { path: 'z.yaml', values: { 'kill-switch': true } }).killSwitch).toBe(true);
    expect(
      resolveConfig({ 'kill-switch': false }, { path: 'z.yaml', values: { 'kill-switch': true } }).killSwitch,
    ).toBe(false);
    expect(() => resolveConfig({ 'kill-switch': 'yes' })).toThrow(/--kill-switch: expected true or false/);
  });

  it('normalises routed prefixes to their network and accepts bare host excludes', () => {
    const c = resolveConfig({ route: ['10.1.2.3/8'], exclude: ['10.9.9.9'] });
    expect(c.routes.map(formatCidr)).toEqual(['10.0.0.0/8']);
    expect(c.excludes.map(formatCidr)).toEqual(['10.9.9.9/32']);
  });
});

describe('config files', () => {
  it('reads YAML with kebab-case keys; flags win and replace lists', () => {
    const p = file(
      'a.yaml',
      'name: zt9\naddress:\n  - 10.77.0.1/24\n  - fd00:77::1/64\nmtu: 9000\nauto-route: true\nexclude: 10.0.0.0/8\nproxy: socks5://127.0.0.1:1080\nudp-timeout: 30s\n',
    );
    const values = readConfigFile(p);
    const fromFile = resolveConfig({}, { path: p, values });
    expect(fromFile.name).toBe('zt9');
    expect(fromFile.addresses.map(formatCidr)).toEqual(['10.77.0.1/24', 'fd00:77::1/64']);
    expect(fromFile.mtu).toBe(9000);
    expect(fromFile.autoRoute).toBe(true);
    expect(fromFile.excludes.map(formatCidr)).toEqual(['10.0.0.0/8']);
    expect(fromFile.udpTimeoutMs).toBe(30_000);
    const merged = resolveConfig(
      { mtu: '1500', address: ['10.88.0.1/24'], 'auto-route': false },
      { path: p, values },
    );
    expect(merged.mtu).toBe(1500);
    expect(merged.addresses.map(formatCidr)).toEqual(['10.88.0.1/24']);
    expect(merged.autoRoute).toBe(false);
    expect(merged.name).toBe('zt9');
  });

  it('reads JSON with camelCase keys', () => {
    const p = file('b.json', JSON.stringify({ autoRoute: true, statsInterval: '2s', logLevel: 'debug' }));
    const c = resolveConfig({}, { path: p, values: readConfigFile(p) });
    expect(c.autoRoute).toBe(true);
    expect(c.statsIntervalMs).toBe(2000);
    expect(c.logLevel).toBe('debug');
  });

  it('names the file and the key in errors', () => {
    const bad = file('c.yaml', 'mtu: lots\n');
    expect(() => resolveConfig({}, { path: bad, values: readConfigFile(bad) })).toThrow(
      `${bad}: mtu: 'lots' is not an integer`,
    );
    const unknown = file('d.yaml', 'colour: blue\n');
    expect(() => readConfigFile(unknown)).toThrow(/unknown key 'colour'/);
    const broken = file('e.yaml', 'a: [1, 2\n');
    expect(() => readConfigFile(broken)).toThrow(/not valid YAML or JSON/);
    const list = file('f.yaml', '- 1\n- 2\n');
    expect(() => readConfigFile(list)).toThrow(/top level must be a mapping/);
    const twice = file('g.yaml', 'auto-route: true\nautoRoute: false\n');
    expect(() => readConfigFile(twice)).toThrow(/given twice/);
    const notBool = file('h.yaml', 'auto-route: yes please\n');
    expect(() => resolveConfig({}, { path: notBool, values: readConfigFile(notBool) })).toThrow(
      /auto-route: expected true or false/,
    );
    expect(() => readConfigFile(join(dir, 'missing.yaml'))).toThrow(/cannot read the file \(ENOENT\)/);
  });

  it('dns: auto by default; fake-ip takes the upper half of each TUN prefix unless --fake-ip-range says', () => {
    expect(resolveConfig({}).dns).toBe('auto');
    expect(resolveConfig({}).fakeIpRanges).toEqual([]);
    expect(() => resolveConfig({ dns: 'doh' })).toThrow(/--dns: 'doh' is not one of auto, tcp, udp, fake-ip/);
    const f = resolveConfig({ dns: 'fake-ip', address: ['198.18.0.1/15', 'fd7a:7a74::1/64'] });
    expect(f.fakeIpRanges.map(formatCidr)).toEqual(['198.19.0.0/16', 'fd7a:7a74:0:0:8000::/65']);
    expect(f.dnsHijack).toBe(false);
    const g = resolveConfig({ dns: 'fake-ip', 'fake-ip-range': '198.18.128.0/17', 'dns-hijack': true });
    expect(g.fakeIpRanges.map(formatCidr)).toEqual(['198.18.128.0/17']);
    expect(g.dnsHijack).toBe(true);
    expect(() => resolveConfig({ dns: 'fake-ip', 'fake-ip-range': '10.0.0.0/16' })).toThrow(
      /--fake-ip-range: '10.0.0.0\/16' is not inside a TUN --address prefix/,
    );
    expect(() => resolveConfig({ dns: 'fake-ip', 'fake-ip-range': '198.18.0.0/24' })).toThrow(
      /holds the tunnel's own address 198.18.0.1/,
    );
    expect(() => resolveConfig({ 'dns-hijack': true })).toThrow(/--dns-hijack: only with --dns fake-ip/);
  });
});
