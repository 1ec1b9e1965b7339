import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksumFinish,
  checksumFold,
  checksumPartial,
  checksumPartialBytewise,
  checksumUpdate16,
  checksumUpdate32,
  checksumUpdateIPv6,
  internetChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV4At,
  pseudoHeaderSumV6,
  pseudoHeaderSumV6Split,
} from '../src/index.js';

/** Straightforward reference: 16-bit big-endian words, end-around carry. */
function referenceChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) | (i + 1 < bytes.length ? bytes[i + 1]! : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

describe('internetChecksum', () => {
  it('matches the RFC 1071 worked example', () => {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, checksum 220d.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(0x220d);
    expect(checksumFold(checksumPartial(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)))).toBe(
      0xddf2,
    );
  });

  it('agrees with a reference for any bytes at any alignment (word loop vs byte loop)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(7), fc.nat(7), (bytes, pre, post) => {
        // Place the bytes at an arbitrary byteOffset inside a larger backing buffer.
        const backing = new Uint8Array(pre + bytes.length + post + 8);
        backing.fill(0xa5);
        const view = backing.subarray(pre % 4, (pre % 4) + pre + bytes.length + post);
        view.set(bytes, pre);
        const expected = referenceChecksum(bytes);
        expect(internetChecksum(view, pre, bytes.length)).toBe(expected);
        expect(checksumFinish(checksumPartialBytewise(view, pre, bytes.length))).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('chains partial sums over even-length segments', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 2000 }), fc.nat(), (bytes, cutSeed) => {
        const cut = (cutSeed % (bytes.length >> 1)) * 2;
        const first = checksumPartial(bytes, 0, cut);
        const chained = checksumPartial(bytes, cut, bytes.length - cut, first);
        expect(checksumFinish(chained)).toBe(referenceChecksum(bytes));
      }),
    );
  });

  it('never reads outside the buffer for out-of-range offsets/lengths', () => {
    const b = Uint8Array.of(1, 2, 3, 4);
    expect(checksumPartial(b, 2, 100)).toBe(0x0304);
    expect(checksumPartial(b, -5, 2)).toBe(0x0102);
    expect(checksumPartial(b, 10, 5)).toBe(0);
  });

  it('handles sums large enough to need intermediate folding (9 MiB of 0xff)', () => {
    const big = new Uint8Array(9 * 1024 * 1024).fill(0xff);
    expect(internetChecksum(big)).toBe(0);
    big[big.length - 1] = 0xfe;
    expect(internetChecksum(big)).toBe(referenceChecksum(big));
  });
});

describe('pseudo-header sums', () => {
  it('IPv4 from numbers equals IPv4 from bytes and the explicit layout', () => {
    const hdr = Uint8Array.of(10, 0, 0, 1, 192, 168, 7, 200);
    const explicit = Uint8Array.of(10, 0, 0, 1, 192, 168, 7, 200, 0, 6, 0x05, 0xdc);
    const a = pseudoHeaderSumV4(0x0a000001, 0xc0a807c8, 6, 1500);
    const b = pseudoHeaderSumV4At(hdr, 0, 4, 6, 1500);
    expect(checksumFold(a)).toBe(checksumFold(b));
    expect(checksumFold(a)).toBe(checksumFold(checksumPartial(explicit)));
  });
  it('IPv6 matches the explicit 40-byte layout', () => {
    const src = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const dst = Uint8Array.from({ length: 16 }, (_, i) => 255 - i * 3);
    const explicit = new Uint8Array(40);
    explicit.set(src, 0);
    explicit.set(dst, 16);
    explicit.set([0, 1, 0x23, 0x45, 0, 0, 0, 58], 32);
    const both = new Uint8Array(32);
    both.set(src, 0);
    both.set(dst, 16);
    const expected = checksumFold(checksumPartial(explicit));
    expect(checksumFold(pseudoHeaderSumV6(both, 0, 16, 58, 0x12345))).toBe(expected);
    expect(checksumFold(pseudoHeaderSumV6Split(src, 0, dst, 0, 58, 0x12345))).toBe(expected);
  });
});

describe('RFC 1624 incremental updates', () => {
  /** Recompute the checksum of `data` whose checksum field sits at `at`. */
  function fullChecksum(data: Uint8Array, at: number): number {
    const copy = Uint8Array.from(data);
    copy[at] = 0;
    copy[at + 1] = 0;
    return internetChecksum(copy);
  }

  it('16-bit, 32-bit and 16-byte updates equal a full recompute', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 40, maxLength: 300 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (bytes, word, dword, addr) => {
          // The checksum field is bytes 0-1; word at 2, dword at 4, 16 bytes at 8.
          const data = Uint8Array.from(bytes);
          data[0] = 0;
          data[1] = 0;
          if (data.every((b) => b === 0)) data[3] = 1; // all-zero data has no canonical form
          let c = internetChecksum(data);
          data[0] = c >>> 8;
          data[1] = c & 0xff;

          const oldWord = (data[2]! << 8) | data[3]!;
          data[2] = word >>> 8;
          data[3] = word & 0xff;
          c = checksumUpdate16(c, oldWord, word);
          expect(c).toBe(fullChecksum(data, 0));
          data[0] = c >>> 8;
          data[1] = c & 0xff;

          const oldDword = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
          data.set([dword >>> 24, (dword >>> 16) & 0xff, (dword >>> 8) & 0xff, dword & 0xff], 4);
          c = checksumUpdate32(c, oldDword, dword);
          expect(c).toBe(fullChecksum(data, 0));
          data[0] = c >>> 8;
          data[1] = c & 0xff;

          c = checksumUpdateIPv6(c, data, 8, addr, 0);
          data.set(addr, 8);
          expect(c).toBe(fullChecksum(data, 0));
        },
      ),
      { numRuns: 500 },
    );
  });
});
