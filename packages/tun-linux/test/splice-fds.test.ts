// The splice relay's file descriptors (issue 17 item 1): an idle relayed pair holds only its two sockets
// (no dup, no pipe), pipes are held only by directions with bytes in flight and at most `maxIdle` are kept,
// and a relay that cannot get a pipe (EMFILE) keeps the bytes waiting while new pairs go through Node streams.
//
// Its own file on purpose: the first test needs a relay whose pool is still empty (this file's module
// instance creates its own relay), so it must run before anything here moves a byte.
import { closeSync, openSync, readdirSync } from 'node:fs';
import { skipUnless, waitFor } from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SplicedPair,
  spliceRelay,
  spliceRelayStats,
  spliceRelaySupported,
} from '../src/splice.linux.js';
import { closed, digestUntilEnd, fdCount, type Rig, rigFactory, send } from './splice-rig.js';

const supported = process.platform === 'linux' && spliceRelaySupported();

const RLIMIT_NOFILE = 7;
function rlimit() {
  const lib = koffi.load('libc.so.6');
  return {
    get: lib.func('int getrlimit(int, _Out_ uint64_t *lim)'),
    set: lib.func('int setrlimit(int, const uint64_t *lim)'),
  } as { get(res: number, lim: BigUint64Array): number; set(res: number, lim: BigUint64Array): number };
}

/** Sends `n` bytes each way over every rig and waits until each peer received them (the pairs stay open). */
async function exchange(rigs: Rig[], n: number): Promise<void> {
  await Promise.all(
    rigs.map(async (r) => {
      const payload = Buffer.alloc(n, 7);
      const got = (s: Rig['peerA']) =>
        new Promise<void>((resolve) => {
          let seen = 0;
          const onData = (d: Buffer) => {
            seen += d.length;
            if (seen >= n) {
              s.off('data', onData);
              resolve();
            }
          };
          s.on('data', onData);
        });
      const both = Promise.all([got(r.peerA), got(r.peerB)]);
      r.peerA.write(payload);
      r.peerB.write(payload);
      await both;
    }),
  );
}

async function endAll(rigs: Rig[], relays: SplicedPair[]): Promise<void> {
  for (const r of rigs) {
    r.peerA.end();
    r.peerB.end();
  }
  const results = await Promise.all(relays.map((p) => p.done));
  for (const r of results) expect(r.reason).toBe('eof');
  for (const r of rigs) {
    r.peerA.destroy();
    r.peerB.destroy();
  }
  await Promise.all(rigs.flatMap((r) => [closed(r.peerA), closed(r.peerB), closed(r.a), closed(r.b)]));
}

describe(
  'splice relay fds',
  skipUnless(supported, 'splice relay tests need Linux and the built addon'),
  () => {
    let factory: Awaited<ReturnType<typeof rigFactory>>;
    beforeAll(async () => {
      factory = await rigFactory();
    });
    afterAll(() => factory.close());

    it('out of fds: the bytes wait for a pipe, new pairs go through Node streams (EMFILE), then all flow', async () => {
      expect(spliceRelayStats()).toMatchObject({ idlePipes: 0, busyPipes: 0 }); // nothing has moved yet in this file
      const waiting = await factory.rig();
      const later = await factory.rig();
      const first = spliceRelay(waiting.a, waiting.b);
      // Fill every free fd slot, then cap RLIMIT_NOFILE right above the highest: pipe2 fails with EMFILE.
      const fillers: number[] = [];
      const highest = () => Math.max(...readdirSync('/proc/self/fd').map(Number));
      let top = highest();
      for (;;) {
        const fd = openSync('/dev/null', 'r');
        fillers.push(fd);
        if (fd >= top) break;
      }
      top = highest();
      const lim = rlimit();
      const saved = new BigUint64Array(2);
      expect(lim.get(RLIMIT_NOFILE, saved)).toBe(0);
      const atB = digestUntilEnd(waiting.peerB);
      let sentA: Promise<string>;
      let second: Awaited<SplicedPair['done']>;
      try {
        expect(lim.set(RLIMIT_NOFILE, BigUint64Array.of(BigInt(top + 1), saved[1]!))).toBe(0);
        sentA = send(waiting.peerA, 1_000_000, true);
        await waitFor('the relay out of pipes', () => spliceRelayStats().outOfPipes === 'EMFILE', 10_000);
        second = await spliceRelay(later.a, later.b).done;
      } finally {
        lim.set(RLIMIT_NOFILE, saved);
        for (const fd of fillers) closeSync(fd);
      }
      expect(second).toMatchObject({ reason: 'fallback', cause: 'relay-refused', code: 'EMFILE' });
      // The fallback pair runs on Node streams; the waiting pair gets its pipes now that fds are free.
      const laterAtB = digestUntilEnd(later.peerB);
      const laterAtA = digestUntilEnd(later.peerA);
      const [ha, hb] = await Promise.all([send(later.peerA, 2_000_000, true), send(later.peerB, 1000, true)]);
      expect(await laterAtB).toEqual({ bytes: 2_000_000, sha256: ha });
      expect(await laterAtA).toEqual({ bytes: 1000, sha256: hb });
      expect(await atB).toEqual({ bytes: 1_000_000, sha256: await sentA });
      waiting.peerB.end();
      expect((await first.done).reason).toBe('eof');
      expect(spliceRelayStats().outOfPipes).toBeUndefined();
      for (const s of [waiting.peerA, waiting.peerB, later.peerA, later.peerB, later.a, later.b]) s.destroy();
    });

    it('an idle relayed pair holds its two sockets and nothing else', async () => {
      const N = 300;
      const rigs: Rig[] = [];
      for (let i = 0; i < N; i++) rigs.push(await factory.rig());
      const before = fdCount(); // every socket open, nothing handed over yet
      const relays = rigs.map((r) => spliceRelay(r.a, r.b));
      await exchange(rigs, 4096); // every pair has moved bytes both ways and is idle again
      await waitFor('no busy pipe', () => spliceRelayStats().busyPipes === 0);
      const pipes = spliceRelayStats();
      const extra = fdCount() - before;
      console.log(`splice relay: ${N} idle pairs hold ${extra} fds beyond their sockets (pipes: %o)`, pipes);
      // Only the idle pool (two fds a pipe) is left; the old relay held 6 more fds per pair (2 dups, 2 pipes).
      expect(pipes.idlePipes).toBeLessThanOrEqual(pipes.maxIdlePipes);
      expect(extra).toBeLessThanOrEqual(2 * pipes.maxIdlePipes);
      await endAll(rigs, relays);
    }, 60_000);

    it("a destroy by the socket's owner closes the fd only after the relay let go of it (no dup to fall back on)", async () => {
      const r = await factory.rig();
      const relay = spliceRelay(r.a, r.b);
      await exchange([r], 1000); // handed over and running
      const order: string[] = [];
      void relay.done.then(() => order.push('relay done'));
      const closedA = new Promise<void>((resolve) =>
        r.a.once('close', () => {
          order.push('a closed');
          resolve();
        }),
      );
      r.a.destroy(); // e.g. the stack closing: Node must not close(2) the fd the relay thread still polls
      await closedA;
      await relay.done;
      expect(order).toEqual(['relay done', 'a closed']);
      for (const s of [r.peerA, r.peerB]) s.destroy();
    });

    it('pipes are held only by directions whose destination lags, and the idle pool stays bounded', async () => {
      const rigs: Rig[] = [];
      for (let i = 0; i < 40; i++) rigs.push(await factory.rig());
      const relays = rigs.map((r) => spliceRelay(r.a, r.b));
      const lagging = rigs.slice(0, 10);
      // peerB of 10 pairs stops reading: their A → B direction fills the socket buffers and then its pipe.
      for (const r of lagging) r.peerB.pause();
      const atB = rigs.map((r) => digestUntilEnd(r.peerB));
      const sent = rigs.map((r, i) => send(r.peerA, i < 10 ? 16 << 20 : 1 << 20, true));
      await Promise.all(sent.slice(10));
      await waitFor('the 30 pairs that keep up delivered', () => Promise.all(atB.slice(10)), 30_000);
      await waitFor(
        'a pipe held by each lagging direction',
        () => spliceRelayStats().busyPipes === 10,
        30_000,
      );
      expect(spliceRelayStats().idlePipes).toBeLessThanOrEqual(spliceRelayStats().maxIdlePipes);
      for (const r of lagging) r.peerB.resume();
      await Promise.all(sent);
      const got = await Promise.all(atB);
      for (let i = 0; i < rigs.length; i++) expect(got[i]!.sha256).toBe(await sent[i]);
      await waitFor('no busy pipe', () => spliceRelayStats().busyPipes === 0);
      const pipes = spliceRelayStats();
      expect(pipes.idlePipes).toBeLessThanOrEqual(pipes.maxIdlePipes);
      for (const r of rigs) r.peerB.end();
      for (const r of await Promise.all(relays.map((p) => p.done))) expect(r.reason).toBe('eof');
      for (const r of rigs) r.peerA.destroy();
    }, 60_000);
  },
);
