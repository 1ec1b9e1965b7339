import { closeSync, openSync, writeSync } from 'node:fs';
import { type CaptureSink, PcapWriter } from '@ztun/packet';

// Capture of what the stack reads from and writes to the device: a classic pcap stream (LINKTYPE_RAW) from
// @ztun/packet, written as it goes so a long capture never sits in memory.

export type PcapTarget = CaptureSink;

export interface PcapSink {
  record(packet: Uint8Array): void;
  close(): void;
}

export function createPcapSink(target: PcapTarget | string): PcapSink {
  let fd: number | undefined;
  let sink: CaptureSink = target as CaptureSink;
  if (typeof target === 'string') {
    const file = openSync(target, 'w');
    fd = file;
    sink = { write: (b) => void writeSync(file, b) };
  }
  const writer = new PcapWriter({ sink });
  return {
    record(packet) {
      writer.addPacket(packet);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
