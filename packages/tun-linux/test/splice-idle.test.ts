// What an idle relayed pair keeps (issue 17 item 2): besides its two sockets, one RelayPair — no closure,
// promise or timer per pair, no Node reading or 'data'/'readable' listener on either socket, and the functions
// the hand-over installs (`_read`, `_destroy`, the handle's `readStart`, the error listener) shared by every
// pair. Counted with v8.queryObjects (it collects garbage first), not timed or read from RSS.
import { queryObjects } from 'node:v8';
import { skipUnless, waitFor } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SpliceRelayResult,
  spliceRelay,
  spliceRelayStats,
  spliceRelaySupported,
} from '../src/splice.linux.js';
import { closed, type Rig, rigFactory } from './splice-rig.js';

const supported = process.platform === 'linux' && spliceRelaySupported();
const count = (ctor: abstract new (...args: never[]) => unknown) =>
  queryObjects(ctor as unknown as new () => unknown, { format: 'count' }) as number;

type Internals = {
  _read?: unknown;
  _destroy?: unknown;
  _handle?: { readStart?: unknown; reading?: unknown };
};

describe(
  'an idle relayed pair',
  skipUnless(supported, 'splice relay tests need Linux and the built addon'),
  () => {
    let factory: Awaited<ReturnType<typeof rigFactory>>;
    beforeAll(async () => {
      factory = await rigFactory();
    });
    afterAll(() => factory.close());

    it('holds no closure, promise or listener of its own, and shares what the hand-over installs', async () => {
      const N = 200;
      const rigs: Rig[] = [];
      for (let i = 0; i < N; i++) rigs.push(await factory.rig());
      const results: SpliceRelayResult[] = [];
      const onDone = (r: SpliceRelayResult) => results.push(r);
      // One pair first, so that whatever is made once per process (the relay, shared functions) exists.
      const first = spliceRelay(rigs[0]!.a, rigs[0]!.b, { onDone });
      await waitFor('the first pair handed over', () => spliceRelayStats().pairs === 1);
      const functions = count(Function);
      const promises = count(Promise);
      const pairs = rigs.slice(1).map((r) => spliceRelay(r.a, r.b, { onDone }));
      await waitFor('every pair handed over', () => spliceRelayStats().pairs === N);
      // A few for the test's own machinery, nothing per pair (before: ~20 closures and 2 promises each).
      expect((count(Function) - functions) / (N - 1)).toBeLessThan(0.1);
      expect((count(Promise) - promises) / (N - 1)).toBeLessThan(0.1);

      const shared = (pick: (s: Internals) => unknown) =>
        new Set(rigs.flatMap((r) => [pick(r.a), pick(r.b)]));
      for (const r of rigs)
        for (const s of [r.a, r.b]) {
          expect(s.listenerCount('data') + s.listenerCount('readable')).toBe(0);
          expect(s.isPaused()).toBe(true);
          expect((s as Internals)._handle?.reading).toBe(false);
        }
      expect(shared((s) => s._read).size).toBe(1);
      expect(shared((s) => s._destroy).size).toBe(1);
      expect(shared((s) => s._handle?.readStart).size).toBe(1);
      expect(shared((s) => (s as unknown as Rig['a']).listeners('error').at(-1)).size).toBe(1);

      // Still a working relay: every pair ends on its peers' FINs, and `done` works when asked for.
      const lastDone = pairs.at(-1)!.done;
      for (const r of rigs) {
        r.peerA.end();
        r.peerB.end();
      }
      await waitFor('every pair reported', () => results.length === N);
      expect(results.every((r) => r.reason === 'eof')).toBe(true);
      expect((await lastDone).reason).toBe('eof');
      expect((await first.done).reason).toBe('eof');
      for (const r of rigs) {
        r.peerA.destroy();
        r.peerB.destroy();
      }
      await Promise.all(rigs.flatMap((r) => [closed(r.a), closed(r.b)]));
    });
  },
);
