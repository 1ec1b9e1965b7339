// Test helper: answers ICMP/ICMPv6 echo requests in a batch in place with @ztun/packet (addresses swapped,
// type 0 / 129, checksums fixed incrementally) and writes them back in one call.
import { echoReplyInPlace, type PacketBatch, PacketView } from '@ztun/packet';
import type { SpawnedInNetns } from '@ztun/testkit';

export interface EchoResponder {
  handle(batch: PacketBatch, write: (batch: PacketBatch) => void): void;
  readonly answered: { v4: number; v6: number; other: number };
}

export function echoResponder(maxBatch: number): EchoResponder {
  const offsets = new Uint32Array(maxBatch);
  const lengths = new Uint32Array(maxBatch);
  const answered = { v4: 0, v6: 0, other: 0 };
  const view = new PacketView();
  return {
    answered,
    handle(batch, write) {
      let n = 0;
      for (let i = 0; i < batch.count; i++) {
        const off = batch.offsets[i]!;
        const len = batch.lengths[i]!;
        // Anything else (router solicitations, MLD reports…) is left unanswered.
        if (view.reset(batch.data, off, len) !== 0 || !echoReplyInPlace(view)) {
          answered.other++;
          continue;
        }
        if (view.version === 4) answered.v4++;
        else answered.v6++;
        offsets[n] = off;
        lengths[n] = len;
        n++;
      }
      if (n > 0) write({ count: n, data: batch.data, offsets, lengths });
    },
  };
}

/** Waits for exit AND the end of stdout: 'exit' can come before the last output has been read. */
export async function finished(spawned: SpawnedInNetns): Promise<number | string> {
  const code = await spawned.exited;
  const out = spawned.child.stdout;
  if (out && !out.readableEnded) await new Promise((resolve) => out.once('end', resolve));
  return code;
}
