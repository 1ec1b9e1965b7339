import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, isNetworkAddress, parseCidr, parseIp } from '../src/cidr.js';

describe('address adapter over @ztun/packet', () => {
  it('parses IPv4 and IPv6 forms', () => {
    expect(parseIp('10.1.2.3')?.bytes).toEqual(Uint8Array.of(10, 1, 2, 3));
    expect(formatIp(parseIp('fd00:0:0:0:0:0:0:1')!.bytes)).toBe('fd00::1');
    expect(formatIp(parseIp('::')!.bytes)).toBe('::');
    expect(formatIp(parseIp('::ffff:10.0.0.1')!.bytes)).toBe('::ffff:10.0.0.1');
    expect(parseIp('10.0.0.0/8')).toBeUndefined();
    expect(formatIp(new Uint8Array(5))).toBe('<5-byte address>');
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!.bytes)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('2001:db8:0:1:1:1:1:1')!.bytes)).toBe('2001:db8:0:1:1:1:1:1');
    expect(parseCidr('fd00::/8')).toMatchObject({ family: 6, prefixLength: 8 });
    expect(parseCidr('10.0.0.1')).toMatchObject({ family: 4, prefixLength: 32 });
  });

  it('rejects malformed text', () => {
    for (const s of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.1.1.1',
      '1.2.3.4/33',
      '1.2.3.4/',
      '1.2.3.4/x',
      ':::',
      '1::2::3',
      'fd00::/129',
      '12345::',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
    ]) {
      expect(parseCidr(s), s).toBeUndefined();
    }
  });

  it('format → parse round-trips any address', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (v6, v4) => {
          expect(parseIp(formatIp(v6))!.bytes).toEqual(v6);
          expect(parseIp(formatIp(v4))!.bytes).toEqual(v4);
        },
      ),
    );
  });

  it('host bits', () => {
    expect(isNetworkAddress(parseCidr('10.0.0.0/8')!)).toBe(true);
    expect(isNetworkAddress(parseCidr('10.0.0.1/8')!)).toBe(false);
    expect(isNetworkAddress(parseCidr('fd00::/8')!)).toBe(true);
    expect(isNetworkAddress(parseCidr('fd00::1/127')!)).toBe(false);
  });
});
