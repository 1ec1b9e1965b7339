// ping(8) through a real TUN in a namespace, answered in the addon's read path (LinuxTun.answerEchoRequests,
// native/icmp_echo.h): replies arrive, counters.echoReplies moves, and the receiver never sees the requests;
// turned off, the requests reach the receiver again (and, unanswered, the ping fails).
import {
  createNetns,
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  runInNetns,
  skipWhen,
  waitFor,
} from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LinuxTun, openTunSync } from '../src/index.js';

const skip = netnsSkipReason() ?? missingCommandsReason(['ping']);
// Names inside the test's own namespace, with the session's prefix like the namespace itself.
const NAME = `${process.env.ZTUN_TEST_NETNS_PREFIX ?? 'zt'}echo0`;

// Both the plain TUN and the offload one (IFF_VNET_HDR: the reply goes back with a zeroed virtio header), as
// ztun opens it by default.
describe.each([{ offload: false }, { offload: true }])(
  'echo requests answered by the device (answerEchoRequests), offload $offload',
  skipWhen(skip),
  ({ offload }) => {
    let ns: Netns;
    let tun: LinuxTun;
    const seen = { echoRequests: 0 };
    beforeAll(() => {
      ns = createNetns('echo');
      tun = runInNetns(ns, () =>
        openTunSync({ name: NAME, addresses: ['10.218.0.1/24', 'fd00:218::1/64'], up: true, offload }),
      );
      tun.onBatch((batch) => {
        for (let i = 0; i < batch.count; i++) {
          const p = batch.data.subarray(batch.offsets[i], batch.offsets[i]! + batch.lengths[i]!);
          if (
            (p[0]! >> 4 === 4 && p[9] === 1 && p[(p[0]! & 15) * 4] === 8) ||
            (p[0]! >> 4 === 6 && p[6] === 58 && p[40] === 128)
          )
            seen.echoRequests++;
        }
      });
    });
    afterAll(async () => {
      await tun?.close();
      await ns?.dispose();
    });

    // The TUN is read on this process's loop, so ping runs as a child and is awaited, never synchronously.
    const ping = async (args: string[]) => {
      const p = ns.spawn('ping', ['-n', '-c', '3', '-i', '0.2', '-W', '2', ...args]);
      return { code: await p.exited, out: p.output() };
    };

    it('answers IPv4 and IPv6 pings in the read path: replies, counted, none handed to the receiver', async () => {
      expect(tun.answerEchoRequests({ ipv4: true, ipv6: true })).toBe(true);
      const v4 = await ping(['10.218.0.2']);
      expect(v4.code, v4.out).toBe(0);
      const v6 = await ping(['-6', 'fd00:218::2']);
      expect(v6.code, v6.out).toBe(0);
      expect(tun.counters.echoReplies).toBe(6);
      expect(seen.echoRequests).toBe(0);
    });

    it('turned off, the requests reach the receiver and the counter stays', async () => {
      tun.answerEchoRequests({ ipv4: false, ipv6: false });
      const before = tun.counters.echoReplies;
      const p = ns.spawn('ping', ['-n', '-c', '1', '-W', '1', '10.218.0.2']);
      await waitFor('the echo request at the receiver', () => seen.echoRequests >= 1);
      expect(await p.exited).not.toBe(0); // nobody answered
      expect(tun.counters.echoReplies).toBe(before);
    });
  },
);
