// The stack's sweeper timer runs only while there is state to time out (stack.ts armSweeper): an idle stack,
// or one that only answers pings, has no timer waking the process (issue 17 item 6).
import { waitFor } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack } from '../src/stack.js';
import { buildUdpPacket, parseIp } from '../src/wire.js';
import { FakeDevice, refusingHandler as handler } from './fake-device.js';

const stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

const sweeping = (s: Stack) => (s as unknown as { sweeping: boolean }).sweeping;

describe('the sweeper', () => {
  it('is off while there is no session, on while one is open, off again once it timed out', async () => {
    const device = new FakeDevice();
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
