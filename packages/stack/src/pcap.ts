import { closeSync, openSync, writeSync } from 'node:fs';

// Capture of what the stack reads from and writes to the device, as a classic pcap file with
// LINKTYPE_RAW (101): each record is a bare IPv4/IPv6 packet, which tshark/tcpdump decode directly.

export interface PcapTarget {
  write(bytes: Uint8Array): void;
}

export interface PcapSink {
  record(packet: Uint8Array): void;
  close(): void;
}

const LINKTYPE_RAW = 101;
const SNAPLEN = 262144;

export function createPcapSink(target: PcapTarget | string): PcapSink {
  let fd: number | undefined;
  let out: PcapTarget;
  if (typeof target === 'string') {
    const file = openSync(target, 'w');
    fd = file;
    out = { write: (b) => void writeSync(file, b) };
  } else {
    out = target;
  }
  const header = new Uint8Array(24);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0xa1b2c3d4, true);
  hv.setUint16(4, 2, true);
  hv.setUint16(6, 4, true);
  hv.setUint32(16, SNAPLEN, true);
  hv.setUint32(20, LINKTYPE_RAW, true);
  out.write(header);
  return {
    record(packet) {
      const rec = new Uint8Array(16 + packet.length);
      const v = new DataView(rec.buffer);
      const ms = Date.now();
      v.setUint32(0, Math.floor(ms / 1000), true);
      v.setUint32(4, (ms % 1000) * 1000, true);
      v.setUint32(8, packet.length, true);
      v.setUint32(12, packet.length, true);
      rec.set(packet, 16);
      out.write(rec);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
