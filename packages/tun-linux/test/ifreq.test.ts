import { describe, expect, it } from 'vitest';
import { errnoName, TunError, TunUnsupportedError } from '../src/errors.js';
import {
  decodeIfreqFlags,
  decodeIfreqName,
  encodeIfreq,
  IFF_NO_PI,
  IFF_TUN,
  IFREQ_SIZE,
  invalidInterfaceName,
  slotSizeFor,
} from '../src/ifreq.js';

describe('struct ifreq', () => {
  it('encodes the name NUL-terminated and the flags at offset 16', () => {
    const b = encodeIfreq('zt0', IFF_TUN | IFF_NO_PI);
    expect(b.length).toBe(IFREQ_SIZE);
    expect([...b.subarray(0, 4)]).toEqual([0x7a, 0x74, 0x30, 0]);
    expect(b[16]).toBe(0x01);
    expect(b[17]).toBe(0x10);
    expect(decodeIfreqName(b)).toBe('zt0');
    expect(decodeIfreqFlags(b)).toBe(0x1001);
  });

  it('leaves the name empty so the kernel picks one', () => {
    expect(decodeIfreqName(encodeIfreq('', IFF_TUN))).toBe('');
  });

  it('decodes a full 15-byte name without a terminator past IFNAMSIZ', () => {
    const b = encodeIfreq('abcdefghijklmno', 0);
    expect(decodeIfreqName(b)).toBe('abcdefghijklmno');
    expect(b[15]).toBe(0);
  });
});

describe('interface names', () => {
  it('accepts what the kernel accepts', () => {
    for (const ok of ['tun0', 'zt%d', 'a', 'abcdefghijklmno', 'ztun-1_x'])
      expect(invalidInterfaceName(ok)).toBeUndefined();
  });

  it('rejects names over 15 bytes (counting UTF-8 bytes), empty, slashes, spaces and stray %', () => {
    expect(invalidInterfaceName('abcdefghijklmnop')).toMatch(/16 bytes/);
    expect(invalidInterfaceName('ééééééééé')).toMatch(/18 bytes/);
    for (const bad of ['', '.', '..', 'a/b', 'a b', 'a:b', 'a%s', '%d%d', 'a\u0000b']) {
      expect(invalidInterfaceName(bad), bad).toBeDefined();
    }
  });
});

describe('slots and errors', () => {
  it('makes slots a multiple of 64 bytes strictly larger than the MTU', () => {
    expect(slotSizeFor(1500)).toBe(1536);
    expect(slotSizeFor(1536)).toBe(1600);
    expect(slotSizeFor(64)).toBe(128);
    expect(slotSizeFor(9000)).toBe(9024);
    expect(slotSizeFor(65535)).toBe(65536);
  });

  it('names errnos and operations', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(77)).toBe('EBADFD');
    expect(errnoName(99999)).toBe('E99999');
    const e = TunError.fromErrno('TUNSETIFF', 1);
    expect(e).toBeInstanceOf(TunError);
    expect(e).toMatchObject({ operation: 'TUNSETIFF', code: 'EPERM', errno: 1, name: 'TunError' });
    expect(e.message).toMatch(/TUNSETIFF failed: EPERM \(needs CAP_NET_ADMIN/);
    const u = new TunUnsupportedError('offload', 'not yet');
    expect(u).toBeInstanceOf(TunError);
    expect(u).toMatchObject({ operation: 'option offload', code: 'ENOTSUP' });
  });
});
