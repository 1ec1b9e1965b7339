// A TunDevice with no kernel behind it, for stack tests that drive the packet path by hand: deliver() hands
// the stack one packet as a batch; answerEchoRequests records what the stack asked for.
import type { EchoFamilies, PacketBatch, TunDevice } from '@ztun/packet';
import type { Handler } from '../src/handler.js';

export class FakeDevice implements TunDevice {
  readonly name = 'fake0';
  readonly index = 1;
  readonly mtu = 1500;
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
  private receiver: ((b: PacketBatch) => void) | undefined;

  answerEchoRequests(families: EchoFamilies): boolean {
    this.echoCalls.push({ ...families });
    return true;
  }
  onBatch(r: (b: PacketBatch) => void): void {
    this.receiver = r;
  }
  /** Hands the stack one packet, at a non-zero offset in its batch's buffer (byteOffset matters). */
  deliver(p: Uint8Array): void {
    const data = new Uint8Array(p.length + 4);
    data.set(p, 4);
    this.receiver?.({ count: 1, data, offsets: new Uint32Array([4]), lengths: new Uint32Array([p.length]) });
  }
  pause(): void {}
  resume(): void {}
  writeBatch(): void {}
  write(): void {}
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
