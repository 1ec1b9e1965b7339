import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AddressError,
  Cidr,
  compareIPv6,
  formatIPv4,
  formatIPv6,
  formatIp,
  ipv4FromBytes,
  ipv4InPrefix,
  ipv4PrefixMask,
  ipv4ToBytes,
  ipv6Equal,
  isIPv4Mapped,
  parseCidr,
  parseIPv4,
  parseIPv6,
  parseIp,
  splitZone,
  tryParseCidr,
  tryParseIPv4,
  tryParseIPv6,
  tryParseIp,
} from '../src/index.js';

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
/** 16 bytes biased towards zero runs, so compression cases are common. */
const sparse16 = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 })
  .map((groups) => {
    const b = new Uint8Array(16);
    groups.forEach((g, i) => {
      b[2 * i] = g >> 8;
      b[2 * i + 1] = g & 0xff;
    });
    return b;
  });

describe('IPv4 text', () => {
  it('round-trips every uint32 and agrees with node:net on validity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => {
        const text = formatIPv4(a);
        expect(isIP(text)).toBe(4);
        expect(parseIPv4(text)).toBe(a);
        expect(ipv4FromBytes(ipv4ToBytes(a))).toBe(a);
      }),
    );
  });
  it('rejects malformed text with a typed error', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1..2.3',
      '1.2.3.4 ',
      'a.b.c.d',
      '-1.2.3.4',
      '1.2.3.',
      '.1.2.3',
    ]) {
      expect(tryParseIPv4(bad), bad).toBe(-1);
      expect(() => parseIPv4(bad)).toThrow(AddressError);
      try {
        parseIPv4(bad);
      } catch (e) {
        expect((e as AddressError).kind).toBe('bad-ipv4');
      }
    }
    expect(parseIPv4('0.0.0.0')).toBe(0);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
  });
  it('masks and prefixes', () => {
    expect(ipv4PrefixMask(0)).toBe(0);
    expect(ipv4PrefixMask(8)).toBe(0xff000000);
    expect(ipv4PrefixMask(32)).toBe(0xffffffff);
    expect(ipv4InPrefix(parseIPv4('198.19.255.1'), parseIPv4('198.18.0.0'), 15)).toBe(true);
    expect(ipv4InPrefix(parseIPv4('198.20.0.1'), parseIPv4('198.18.0.0'), 15)).toBe(false);
  });
});

describe('IPv6 text', () => {
  it('RFC 5952 examples', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // single zero group not compressed
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
      ['2001:DB8::AbCd', '2001:db8::abcd'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['::ffff:192.0.2.128', '::ffff:192.0.2.128'],
      ['0:0:0:0:0:ffff:c000:0280', '::ffff:192.0.2.128'],
      ['::192.0.2.1', '::c000:201'], // v4-compatible: hex, only v4-mapped gets dotted form
      ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ];
    for (const [input, canonical] of cases) expect(formatIPv6(parseIPv6(input)), input).toBe(canonical);
    expect(isIPv4Mapped(parseIPv6('::ffff:1.2.3.4'))).toBe(true);
    expect(isIPv4Mapped(parseIPv6('::fffe:1.2.3.4'))).toBe(false);
  });

  it('rejects malformed text', () => {
    const out = new Uint8Array(16);
    for (const bad of [
      '',
      ':',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '1::2::3',
      '12345::',
      'g::',
      '1:2:3:4:5:6:7:8::',
      '::1:2:3:4:5:6:7:8',
      '1:',
      ':1',
      '::1.2.3',
      '::1.2.3.4:5',
      '1:2:3:4:5:6:7:1.2.3.4',
      'fe80::1%eth0',
      '::ffff:01.2.3.4',
    ]) {
      expect(tryParseIPv6(bad, out, 0), bad).toBe(false);
      if (!bad.includes('%')) expect(isIP(bad), `node:net agrees ${bad}`).not.toBe(6); // node accepts zone ids
      expect(() => parseIPv6(bad)).toThrow(AddressError);
    }
  });

  it('format → parse round-trips and matches the WHATWG URL serializer (an independent RFC 5952 implementation)', () => {
    fc.assert(
      fc.property(fc.oneof(bytes16, sparse16), (b) => {
        const text = formatIPv6(b);
        expect(isIP(text)).toBe(6);
        expect(Array.from(parseIPv6(text))).toEqual(Array.from(b));
        if (!isIPv4Mapped(b)) expect(new URL(`http://[${text}]/`).hostname).toBe(`[${text}]`);
      }),
      { numRuns: 2000 },
    );
  });

  it('parses non-canonical spellings (uppercase, leading zeros, full form, trailing dotted quad)', () => {
    fc.assert(
      fc.property(sparse16, fc.boolean(), fc.boolean(), (b, upper, dotted) => {
        const groups = Array.from({ length: 8 }, (_, i) =>
          ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16).padStart(4, '0'),
        );
        let text = groups.join(':');
        if (dotted) text = `${groups.slice(0, 6).join(':')}:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
        if (upper) text = text.toUpperCase();
        expect(Array.from(parseIPv6(text))).toEqual(Array.from(b));
      }),
    );
  });

  it('never throws from tryParse on arbitrary strings, agrees with node:net', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%/ x'), maxLength: 45 }),
        (s) => {
          const out = new Uint8Array(16);
          const ok6 = tryParseIPv6(s, out, 0);
          const ok4 = tryParseIPv4(s) >= 0;
          const node = isIP(s);
          // node:net accepts zone ids, we do not.
          if (!s.includes('%')) {
            expect(ok6, s).toBe(node === 6);
            expect(ok4, s).toBe(node === 4);
          }
          if (ok6) expect(Array.from(parseIPv6(formatIPv6(out)))).toEqual(Array.from(out));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('compares in place', () => {
    const a = new Uint8Array(40);
    a.set(parseIPv6('fd00::1'), 8);
    a.set(parseIPv6('fd00::1'), 24);
    expect(ipv6Equal(a, 8, a, 24)).toBe(true);
    a[39] = 2;
    expect(ipv6Equal(a, 8, a, 24)).toBe(false);
    expect(compareIPv6(a, 8, a, 24)).toBeLessThan(0);
  });
});

describe('either family, with zones', () => {
  it('splits an RFC 4007 zone id off', () => {
    expect(splitZone('fe80::1%en0')).toEqual(['fe80::1', 'en0']);
    expect(splitZone('fe80::1%')).toEqual(['fe80::1', '']);
    expect(splitZone('10.0.0.1')).toEqual(['10.0.0.1', undefined]);
  });

  it('tryParseIp returns 4 or 16 bytes, or undefined; zones only when allowed', () => {
    expect(tryParseIp('10.0.0.1')).toEqual(Uint8Array.of(10, 0, 0, 1));
    expect(tryParseIp('fd00::1')).toEqual(parseIPv6('fd00::1'));
    expect(tryParseIp('fe80::1%en0')).toBeUndefined();
    expect(tryParseIp('fe80::1%en0', { allowZone: true })).toEqual(parseIPv6('fe80::1'));
    expect(tryParseIp('fe80::1%', { allowZone: true })).toBeUndefined();
    expect(tryParseIp('10.0.0.1%en0', { allowZone: true })).toBeUndefined();
    for (const bad of ['', 'nope', '10.0.0.256', '1::2::3', '10.0.0.1/8'])
      expect(tryParseIp(bad)).toBeUndefined();
  });

  it('tryParseIp agrees with parseIp on any address text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        expect(tryParseIp(text)).toEqual(parseIp(text));
      }),
    );
  });
});

describe('CIDR', () => {
  it('parses, normalises, contains, n-th', () => {
    const c = parseCidr('10.1.2.3/8');
    expect([c.version, c.prefixLength, c.hasHostBits, c.toString(), c.network().toString()]).toEqual([
      4,
      8,
      true,
      '10.1.2.3/8',
      '10.0.0.0/8',
    ]);
    expect(c.size).toBe(1n << 24n);
    expect(c.containsIPv4(parseIPv4('10.255.0.1'))).toBe(true);
    expect(c.containsIPv4(parseIPv4('11.0.0.0'))).toBe(false);
    expect(c.contains('10.9.9.9')).toBe(true);
    expect(c.contains('fd00::1')).toBe(false);
    expect(formatIp(c.nth(0))).toBe('10.0.0.0');
    expect(formatIp(c.nth(257))).toBe('10.0.1.1');
    expect(c.nthIPv4(0xffffff)).toBe(parseIPv4('10.255.255.255'));
    expect(() => c.nth(1 << 24)).toThrow(AddressError);
    expect(() => c.nth(-1)).toThrow(AddressError);
    const v6 = parseCidr('fd00:1234::/32');
    expect(v6.containsIPv6(parseIPv6('fd00:1234:ffff::1'))).toBe(true);
    expect(v6.containsIPv6(parseIPv6('fd00:1235::1'))).toBe(false);
    expect(v6.containsIPv4(0)).toBe(false);
    expect(formatIp(v6.nth(2n ** 96n - 1n))).toBe('fd00:1234:ffff:ffff:ffff:ffff:ffff:ffff');
    expect(formatIp(v6.nth(0x1_0000_0001n))).toBe('fd00:1234::1:0:1');
    expect(parseCidr('198.18.0.0/15').containsCidr(parseCidr('198.19.4.0/24'))).toBe(true);
    expect(parseCidr('198.18.0.0/15').containsCidr(parseCidr('198.0.0.0/8'))).toBe(false);
    expect(parseCidr('1.2.3.4').prefixLength).toBe(32);
    expect(parseCidr('::1').prefixLength).toBe(128);
    expect(parseCidr('0.0.0.0/0').containsIPv4(0xdeadbeef)).toBe(true);
    expect(parseCidr('::/0').containsIPv6(parseIPv6('ffff::'))).toBe(true);
    expect(parseCidr('fd00::7/127').network().toString()).toBe('fd00::6/127');
  });

  it('returns typed errors for bad input', () => {
    const cases: [string, string][] = [
      ['', 'bad-cidr'],
      ['10.0.0.0/33', 'bad-prefix-length'],
      ['10.0.0.0/', 'bad-prefix-length'],
      ['10.0.0.0/08', 'bad-prefix-length'],
      ['10.0.0.0/-1', 'bad-prefix-length'],
      ['10.0.0.0/8/8', 'bad-prefix-length'],
      ['fd00::/129', 'bad-prefix-length'],
      ['10.0.0/8', 'bad-address'],
      ['nonsense', 'bad-address'],
      ['fd00::g/64', 'bad-address'],
    ];
    for (const [text, kind] of cases) {
      const r = tryParseCidr(text);
      expect(r, text).toBeInstanceOf(AddressError);
      expect((r as AddressError).kind, text).toBe(kind);
      expect(() => parseCidr(text)).toThrow(AddressError);
    }
    const strict = tryParseCidr('10.0.0.1/8', { strict: true });
    expect((strict as AddressError).kind).toBe('host-bits-set');
    expect(tryParseCidr('10.0.0.0/8', { strict: true })).toBeInstanceOf(Cidr);
    expect(() => parseIp('x')).toThrow(AddressError);
  });

  it('contains agrees with a bigint reference for random prefixes', () => {
    const toBig = (b: Uint8Array) => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
    fc.assert(
      fc.property(fc.boolean(), bytes16, bytes16, fc.nat(128), (v4, netBytes, addrBytes, lenSeed) => {
        const size = v4 ? 4 : 16;
        const bits = size * 8;
        const len = lenSeed % (bits + 1);
        const net = netBytes.slice(0, size);
        const addr = addrBytes.slice(0, size);
        if (lenSeed & 1) addr.set(net.slice(0, Math.floor(len / 8))); // often share the prefix
        const cidr = new Cidr(net, len);
        const shift = BigInt(bits - len);
        const expected = toBig(net) >> shift === toBig(addr) >> shift;
        expect(cidr.contains(addr)).toBe(expected);
        if (v4) expect(cidr.containsIPv4(ipv4FromBytes(addr))).toBe(expected);
        else expect(cidr.containsIPv6(addr, 0)).toBe(expected);
        const text = cidr.network().toString();
        expect(parseCidr(text).toString()).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });
});
