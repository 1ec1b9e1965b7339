// Test helper: answers ICMP/ICMPv6 echo requests in a batch in place and writes them back in one call.
import { internetChecksum } from '@ztun/packet';
import type { SpawnedInNetns } from '@ztun/testkit';
import type { PacketBatch } from '../src/types.js';

export interface EchoResponder {
  handle(batch: PacketBatch, write: (batch: PacketBatch) => void): void;
  readonly answered: { v4: number; v6: number; other: number };
}

/** Rewrites echo requests into replies (swap addresses, type 8→0 / 128→129, checksum) in place. */
export function echoResponder(maxBatch: number): EchoResponder {
  const offsets = new Uint32Array(maxBatch);
  const lengths = new Uint32Array(maxBatch);
  const answered = { v4: 0, v6: 0, other: 0 };
  const scratch = new Uint8Array(40 + 65536); // IPv6 pseudo-header + ICMPv6 message, for the checksum
  return {
    answered,
    handle(batch, write) {
      let n = 0;
      for (let i = 0; i < batch.count; i++) {
        const off = batch.offsets[i]!;
        const len = batch.lengths[i]!;
        const p = batch.data.subarray(off, off + len);
        if (replyInPlace(p, scratch)) {
          if (p[0]! >> 4 === 4) answered.v4++;
          else answered.v6++;
          offsets[n] = off;
          lengths[n] = len;
          n++;
        } else answered.other++;
      }
      if (n > 0) write({ count: n, data: batch.data, offsets, lengths });
    },
  };
}

function swap(p: Uint8Array, a: number, b: number, size: number): void {
  for (let i = 0; i < size; i++) {
    const t = p[a + i]!;
    p[a + i] = p[b + i]!;
    p[b + i] = t;
  }
}

function replyInPlace(p: Uint8Array, scratch: Uint8Array): boolean {
  const version = p[0]! >> 4;
  if (version === 4) {
    const ihl = (p[0]! & 0x0f) * 4;
    if (p[9] !== 1 || p.length < ihl + 8 || p[ihl] !== 8) return false;
    swap(p, 12, 16, 4); // the IPv4 header checksum is a sum: unchanged by the swap
    p[ihl] = 0; // echo reply
    p[ihl + 2] = 0;
    p[ihl + 3] = 0;
    const c = internetChecksum(p, ihl, p.length - ihl);
    p[ihl + 2] = c >> 8;
    p[ihl + 3] = c & 0xff;
    return true;
  }
  if (version === 6) {
    if (p[6] !== 58 || p.length < 48 || p[40] !== 128) return false;
    swap(p, 8, 24, 16);
    p[40] = 129;
    p[42] = 0;
    p[43] = 0;
    const icmpLength = p.length - 40;
    // pseudo-header: source, destination, upper-layer length (32 bits), 3 zero bytes, next header 58
    scratch.set(p.subarray(8, 40), 0);
    scratch.fill(0, 32, 40);
    scratch[34] = icmpLength >> 8;
    scratch[35] = icmpLength & 0xff;
    scratch[39] = 58;
    scratch.set(p.subarray(40), 40);
    const c = internetChecksum(scratch, 0, 40 + icmpLength);
    p[42] = c >> 8;
    p[43] = c & 0xff;
    return true;
  }
  return false;
}

/** Waits for exit AND the end of stdout: 'exit' can come before the last output has been read. */
export async function finished(spawned: SpawnedInNetns): Promise<number | string> {
  const code = await spawned.exited;
  const out = spawned.child.stdout;
  if (out && !out.readableEnded) await new Promise((resolve) => out.once('end', resolve));
  return code;
}
