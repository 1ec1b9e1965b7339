import { describe, expect, it } from 'vitest';
import { type CaptureSink, LINKTYPE_RAW, PcapngWriter, PcapWriter } from '../src/index.js';

function collect(): CaptureSink & { bytes(): Uint8Array; chunks: number } {
  const parts: Uint8Array[] = [];
  return {
    chunks: 0,
    write(chunk) {
      parts.push(chunk.slice());
      this.chunks++;
    },
    bytes() {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    },
  };
}

const packets = [Uint8Array.of(0x45, 0, 0, 20, 1, 2, 3), new Uint8Array(300).fill(7), Uint8Array.of(0x60)];

describe('pcap writers', () => {
  it('writes a classic pcap header with LINKTYPE_RAW and truncates to snaplen', () => {
    const w = new PcapWriter({ snaplen: 100 });
    w.addPacket(packets[1]!, 0, 300, 1_700_000_000_123_456);
    const b = w.toBytes();
    const dv = new DataView(b.buffer, b.byteOffset);
    expect(dv.getUint32(0, true)).toBe(0xa1b2c3d4);
    expect(dv.getUint32(16, true)).toBe(100);
    expect(dv.getUint32(20, true)).toBe(LINKTYPE_RAW);
    expect(dv.getUint32(24, true)).toBe(1_700_000_000);
    expect(dv.getUint32(28, true)).toBe(123_456);
    expect(dv.getUint32(32, true)).toBe(100); // captured
    expect(dv.getUint32(36, true)).toBe(300); // original
    expect(b.length).toBe(24 + 16 + 100);
  });

  for (const Writer of [PcapWriter, PcapngWriter]) {
    it(`${Writer.name} streams the same bytes to a sink, chunk by chunk, and keeps none`, () => {
      const buffered = new Writer();
      const sink = collect();
      const streaming = new Writer({ sink });
      const chunksAfterHeader = sink.chunks;
      for (const [i, p] of packets.entries()) {
        buffered.addPacket(p, 0, p.length, 1_000_000 * (i + 1));
        streaming.addPacket(p, 0, p.length, 1_000_000 * (i + 1));
      }
      expect(sink.chunks - chunksAfterHeader).toBe(packets.length);
      expect(sink.bytes()).toEqual(buffered.toBytes());
      expect(() => streaming.toBytes()).toThrow(/streams to its sink/);
    });
  }
});
