// The stack's sweeper timer runs only while there is state to time out (stack.ts armSweeper): an idle stack,
// or one that only answers pings, has no timer waking the process (issue 17 item 6).
import type { PacketBatch, TunDevice } from '@ztun/packet';
import { waitFor } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { Handler } from '../src/handler.js';
import { createStack, type Stack } from '../src/stack.js';
import { buildUdpPacket, parseIp } from '../src/wire.js';

class Device implements TunDevice {
  readonly name = 'fake0';
  readonly index = 1;
  readonly mtu = 1500;
  readonly counters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
  private receiver: ((b: PacketBatch) => void) | undefined;
  onBatch(r: (b: PacketBatch) => void): void {
    this.receiver = r;
  }
  deliver(p: Uint8Array): void {
    const data = new Uint8Array(p.length + 4);
    data.set(p, 4);
    this.receiver!({ count: 1, data, offsets: new Uint32Array([4]), lengths: new Uint32Array([p.length]) });
  }
  pause(): void {}
  resume(): void {}
  writeBatch(): void {}
  write(): void {}
  onError(): void {}
  async close(): Promise<void> {}
}

const handler: Handler = {
  tcp(conn) {
    conn.destroy();
  },
  udp() {
    return { send() {}, close() {} };
  },
};

const stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

const sweeping = (s: Stack) => (s as unknown as { sweeping: boolean }).sweeping;

describe('the sweeper', () => {
  it('is off while there is no session, on while one is open, off again once it timed out', async () => {
    const device = new Device();
    const stack = createStack({
      device,
      handler,
      addresses: { ipv4: { tunAddress: '127.0.0.1' } },
      udpTimeoutMs: 10,
    });
    stacks.push(stack);
    await stack.start();
    expect(sweeping(stack)).toBe(false);
    const datagram = buildUdpPacket(
      parseIp('127.0.0.1')!,
      5353,
      parseIp('10.0.0.53')!,
      53,
      new Uint8Array([1]),
    );
    device.deliver(datagram);
    expect(stack.counters.udpOpen).toBe(1);
    expect(sweeping(stack)).toBe(true);
    await waitFor('the session to time out and the sweeper to stop', () => !sweeping(stack));
    expect(stack.counters.udpOpen).toBe(0);
  });
});
