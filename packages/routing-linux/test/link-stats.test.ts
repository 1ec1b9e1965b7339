import { createNetns, type Netns, netnsSkipReason, runInNetns } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSetLink, parseLinkStats } from '../src/codec/link.js';
import { RoutingInputError } from '../src/errors.js';
import { RtNetlink } from '../src/rtnetlink.js';

// getLinkStats (IFLA_STATS64) and setLink({ txQueueLen }) against the kernel, in a namespace this file
// creates; `ip -s -j link` is the independent reader.

const skip = netnsSkipReason();
if (skip) console.warn(`[skip] routing-linux link stats tests: ${skip}`);

describe('link stats and txqueuelen codec', () => {
  it('a set with only txQueueLen is a request; one with nothing to change is refused before sending', () => {
    expect(buildSetLink(3, { txQueueLen: 4096 }).finish(1).length).toBeGreaterThan(16);
    expect(() => buildSetLink(3, {})).toThrow(RoutingInputError);
    expect(() => buildSetLink(3, { txQueueLen: -1 })).toThrow(RoutingInputError);
  });

  it('an answer without IFLA_STATS64 has no stats', () => {
    expect(parseLinkStats({ type: 16, flags: 0, seq: 0, pid: 0, payload: new Uint8Array(16) })).toBe(
      undefined,
    );
  });
});

describe.skipIf(skip !== undefined)('getLinkStats / txQueueLen in a network namespace', () => {
  let ns: Netns;
  let nl: RtNetlink;
  beforeAll(() => {
    ns = createNetns('cls');
    ns.ip('link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
    ns.ip('addr', 'add', '10.77.0.1/24', 'dev', 'veth0');
    ns.ip('link', 'set', 'veth0', 'up');
    ns.ip('link', 'set', 'veth1', 'up');
    nl = runInNetns(ns, () => RtNetlink.open());
  });
  afterAll(async () => {
    nl?.close();
    await ns?.dispose();
  });

  it('reads the same counters as `ip -s link`, and sets the transmit queue length', () => {
    // Some traffic so the counters are not all zero.
    ns.tryExec('ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.77.0.2']);
    const index = nl.getLink('veth0').index;
    const ours = nl.getLinkStats(index);
    const [ip] = ns.ipJson<
      {
        stats64: {
          rx: { packets: number; dropped: number };
          tx: { packets: number; bytes: number; dropped: number };
        };
      }[]
    >('-s', 'link', 'show', 'veth0');
    expect(ours.txPackets).toBeGreaterThan(0);
    expect(ours.txPackets).toBe(ip!.stats64.tx.packets);
    expect(ours.txBytes).toBe(ip!.stats64.tx.bytes);
    expect(ours.txDropped).toBe(ip!.stats64.tx.dropped);
    expect(nl.getLinkStats('veth0')).toEqual(nl.getLinkStats(index));

    nl.setLink(index, { txQueueLen: 4321 });
    expect(ns.ipJson<{ txqlen: number }[]>('link', 'show', 'veth0')[0]!.txqlen).toBe(4321);
  });
});
