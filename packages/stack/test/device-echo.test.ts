// The stack lets a device answer echo requests itself (StackOptions.deviceEcho, TunDevice.answerEchoRequests)
// only when it would answer every one of them the same way, turns it off at close, and counts the device's
// replies in icmpEchoReplies.
import type { EchoFamilies, PacketBatch, TunDevice } from '@ztun/packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { Handler } from '../src/handler.js';
import { createStack, type Stack, type StackOptions } from '../src/stack.js';

class EchoDevice implements TunDevice {
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
  readonly calls: EchoFamilies[] = [];
  answerEchoRequests(families: EchoFamilies): boolean {
    this.calls.push({ ...families });
    return true;
  }
  onBatch(_r: (b: PacketBatch) => void): void {}
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

async function started(extra: Partial<StackOptions> = {}, v6 = true) {
  const device = new EchoDevice();
  const stack = createStack({
    device,
    handler,
    addresses: { ipv4: { tunAddress: '127.0.0.1' }, ...(v6 ? { ipv6: { tunAddress: '::1' } } : {}) },
    ...extra,
  });
  stacks.push(stack);
  await stack.start();
  return { device, stack };
}

describe('echo requests answered by the device', () => {
  it('asks the device for its families at start, counts its replies, and turns it off at close', async () => {
    const { device, stack } = await started();
    expect(device.calls).toEqual([{ ipv4: true, ipv6: true }]);
    device.counters.echoReplies = 5;
    expect(stack.counters.icmpEchoReplies).toBe(5);
    await stack.close();
    expect(device.calls.at(-1)).toEqual({ ipv4: false, ipv6: false });
    const v4only = await started({}, false);
    expect(v4only.device.calls).toEqual([{ ipv4: true, ipv6: false }]);
  });

  it('keeps every echo on its own path with icmp off, a capture, a hook that may veto, or deviceEcho false', async () => {
    const cases: Partial<StackOptions>[] = [
      { icmp: 'off' },
      { pcap: { write() {} } as unknown as StackOptions['pcap'] },
      { handler: { ...handler, icmpEcho: () => true } },
      { deviceEcho: false },
    ];
    for (const extra of cases) {
      const { device } = await started(extra);
      expect(device.calls, JSON.stringify(Object.keys(extra))).toEqual([]);
    }
  });
});
