// A TunDevice with no kernel behind it, for stack tests that drive the packet path by hand: deliver() hands
// the stack packets as one batch, what the stack writes is kept in `written` (with each packet's GSO size and
// flags), answerEchoRequests records what the stack asked for.
import type { EchoFamilies, PacketBatch, TunDevice } from '@ztun/packet';
import type { Handler } from '../src/handler.js';

/** A packet the stack wrote, with its PacketBatch GSO size and flags (0 when written alone). */
export interface Written {
  bytes: Uint8Array;
  gso: number;
  flags: number;
}

export class FakeDevice implements TunDevice {
  readonly name = 'fake0';
  readonly index = 1;
  readonly mtu: number;
  /** Present when constructed with `uso`: whether the device takes UDP super-packets. */
  readonly offload?: { uso: boolean };
  readonly counters = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    rxDropped: 0,
    txDropped: 0,
    echoReplies: 0,
  };
  /** Every answerEchoRequests call, in order. */
  readonly echoCalls: EchoFamilies[] = [];
  readonly written: Written[] = [];
  private receiver: ((b: PacketBatch) => void) | undefined;

  constructor(opts: { mtu?: number; uso?: boolean } = {}) {
    this.mtu = opts.mtu ?? 1500;
    if (opts.uso !== undefined) this.offload = { uso: opts.uso };
  }

  answerEchoRequests(families: EchoFamilies): boolean {
    this.echoCalls.push({ ...families });
    return true;
  }
  onBatch(r: (b: PacketBatch) => void): void {
    this.receiver = r;
  }
  /** Hands the stack packets as one batch, 4 bytes apart from a non-zero offset (byteOffset matters). */
  deliver(...packets: Uint8Array[]): void {
    const data = new Uint8Array(packets.reduce((a, p) => a + p.length + 4, 4));
    const offsets = new Uint32Array(packets.length);
    const lengths = new Uint32Array(packets.length);
    let o = 4;
    packets.forEach((p, i) => {
      data.set(p, o);
      offsets[i] = o;
      lengths[i] = p.length;
      o += p.length + 4;
    });
    this.receiver?.({ count: packets.length, data, offsets, lengths });
  }
  pause(): void {}
  resume(): void {}
  writeBatch(b: PacketBatch): void {
    for (let i = 0; i < b.count; i++)
      this.written.push({
        bytes: b.data.slice(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!),
        gso: b.gsoSize?.[i] ?? 0,
        flags: b.flags?.[i] ?? 0,
      });
  }
  write(p: Uint8Array): void {
    this.written.push({ bytes: p.slice(), gso: 0, flags: 0 });
  }
  onError(): void {}
  async close(): Promise<void> {}
}

/** A handler that refuses TCP and drops UDP: for tests about the stack itself, not about relaying. */
export const refusingHandler: Handler = {
  tcp(conn) {
    conn.destroy();
  },
  udp() {
    return { send() {}, close() {} };
  },
};
