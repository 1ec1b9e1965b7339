import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  checkUtunDatagram,
  frameUtunPacket,
  frameUtunPacketInto,
  readUtunHeader,
  stripUtunBatch,
  utunFamilyOf,
  writeUtunHeader,
} from '../src/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const v4 = (len = 20) => {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  return p;
};
const v6 = (len = 40) => {
  const p = new Uint8Array(len);
  p[0] = 0x60;
  return p;
};

describe('the 4-byte utun header (network byte order; xnu if_utun.c:2060-2064)', () => {
  it('is 00 00 00 02 for IPv4 and 00 00 00 1e for IPv6 (AF_INET6 = 30 on darwin, not 10 or 23)', () => {
    expect(hex(frameUtunPacket(v4())!.subarray(0, 5))).toBe('0000000245');
    expect(hex(frameUtunPacket(v6())!.subarray(0, 5))).toBe('0000001e60');
    const out = new Uint8Array(4);
    writeUtunHeader(out, 0, 0x01020304);
    expect(hex(out)).toBe('01020304');
    expect(readUtunHeader(out)).toBe(0x01020304);
  });

  it('refuses non-IP packets and packets that do not fit', () => {
    expect(frameUtunPacket(new Uint8Array([0x10, 0]))).toBeNull();
    expect(frameUtunPacket(new Uint8Array(0))).toBeNull();
    expect(frameUtunPacketInto(v4(20), 0, 20, new Uint8Array(23), 0)).toBe(0);
    expect(utunFamilyOf(v4(), 0)).toBe(AF_INET);
    expect(utunFamilyOf(v6(), 0)).toBe(AF_INET6);
  });

  it('checks read datagrams: header length, family, version agreement', () => {
    const ok4 = frameUtunPacket(v4())!;
    expect(checkUtunDatagram(ok4, 0, ok4.length)).toBe('ok');
    expect(checkUtunDatagram(ok4, 0, 4)).toBe('short');
    const linuxFamily = ok4.slice();
    linuxFamily[3] = 10; // Linux AF_INET6 — never on darwin
    expect(checkUtunDatagram(linuxFamily, 0, linuxFamily.length)).toBe('unknown-family');
    const mismatch = frameUtunPacket(v6())!;
    mismatch[3] = AF_INET;
    expect(checkUtunDatagram(mismatch, 0, mismatch.length)).toBe('family-mismatch');
    // Seed 001 skipped the header only "if buf[0] == 0 and buf[1] == 0": we always strip exactly 4 bytes
    // and check it, so a datagram whose header is garbage is dropped, never parsed as IP.
    const garbage = ok4.slice();
    garbage[0] = 0x45;
    expect(checkUtunDatagram(garbage, 0, garbage.length)).toBe('unknown-family');
  });
});

describe('stripUtunBatch: slots of a read slab → a PacketBatch without copying', () => {
  it('points past each header and drops short, unknown, mismatched and truncated datagrams', () => {
    const slotSize = 4 + 100 + 1;
    const slab = new Uint8Array(slotSize * 6);
    const lengths = new Uint32Array(6);
    const put = (i: number, datagram: Uint8Array, len = datagram.length) => {
      slab.set(datagram.subarray(0, Math.min(datagram.length, slotSize)), i * slotSize);
      lengths[i] = len;
    };
    put(0, frameUtunPacket(v4(20))!);
    put(1, new Uint8Array([0, 0, 0, 2]));
    put(2, frameUtunPacket(v6(60))!);
    put(3, new Uint8Array([0, 0, 0, 99, 0x45]));
    put(4, frameUtunPacket(v4(200))!, slotSize); // filled the slot: truncated by the read
    put(5, frameUtunPacket(v6(100))!);
    const offsets = new Uint32Array(6);
    const out = new Uint32Array(6);
    const r = stripUtunBatch(slab, slotSize, lengths, 6, offsets, out);
    expect(r).toEqual({ count: 3, bytes: 20 + 60 + 100, dropped: 3 });
    expect(Array.from(offsets.subarray(0, 3))).toEqual([4, 2 * slotSize + 4, 5 * slotSize + 4]);
    expect(Array.from(out.subarray(0, 3))).toEqual([20, 60, 100]);
  });

  it('property: frame then strip returns the same packets, byte for byte', () => {
    const packet = fc
      .tuple(fc.constantFrom(0x45, 0x60), fc.uint8Array({ minLength: 0, maxLength: 200 }))
      .map(([first, rest]) => Uint8Array.from([first, ...rest]));
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 16 }), (packets) => {
        const slotSize = 4 + 201 + 1;
        const slab = new Uint8Array(slotSize * packets.length);
        const lengths = new Uint32Array(packets.length);
        packets.forEach((p, i) => {
          lengths[i] = frameUtunPacketInto(p, 0, p.length, slab, i * slotSize);
        });
        const offsets = new Uint32Array(packets.length);
        const out = new Uint32Array(packets.length);
        const r = stripUtunBatch(slab, slotSize, lengths, packets.length, offsets, out);
        expect(r.count).toBe(packets.length);
        packets.forEach((p, i) => {
          expect(hex(slab.subarray(offsets[i]!, offsets[i]! + out[i]!))).toBe(hex(p));
        });
      }),
      { numRuns: 300 },
    );
  });
});
