// The stack lets a device answer echo requests itself (StackOptions.deviceEcho, TunDevice.answerEchoRequests)
// only when it would answer every one of them the same way, turns it off at close, and counts the device's
// replies in icmpEchoReplies.
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type StackOptions } from '../src/stack.js';
import { FakeDevice, refusingHandler as handler } from './fake-device.js';

const stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

async function started(extra: Partial<StackOptions> = {}, v6 = true) {
  const device = new FakeDevice();
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
    expect(device.echoCalls).toEqual([{ ipv4: true, ipv6: true }]);
    device.counters.echoReplies = 5;
    expect(stack.counters.icmpEchoReplies).toBe(5);
    await stack.close();
    expect(device.echoCalls.at(-1)).toEqual({ ipv4: false, ipv6: false });
    const v4only = await started({}, false);
    expect(v4only.device.echoCalls).toEqual([{ ipv4: true, ipv6: false }]);
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
      expect(device.echoCalls, JSON.stringify(Object.keys(extra))).toEqual([]);
    }
  });
});
