// The splice(2) relay over loopback TCP: peerA ⇄ [a … relay … b] ⇄ peerB (test/splice-rig.ts).
import { createHash } from 'node:crypto';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  canSplice,
  type SplicedPair,
  spliceRelay,
  spliceRelaySupported,
  spliceRelayTotals,
} from '../src/splice.linux.js';
import { closed, digestUntilEnd, errorOf, fdCount, type Rig, rigFactory, send } from './splice-rig.js';

const supported = process.platform === 'linux' && spliceRelaySupported();

/** ZTUN_SPLICE_NODE_INTERNALS warnings emitted while it listens. */
function collectWarnings(): { list: string[]; stop(): void } {
  const list: string[] = [];
  const listener = (w: Error & { code?: string }) => {
    if (w.code === 'ZTUN_SPLICE_NODE_INTERNALS') list.push(w.message);
  };
  process.on('warning', listener);
  return { list, stop: () => process.off('warning', listener) };
}

describe('spliceRelay', skipUnless(supported, 'splice relay tests need Linux and the built addon'), () => {
  let factory: Awaited<ReturnType<typeof rigFactory>>;
  const rig = () => factory.rig();
  beforeAll(async () => {
    factory = await rigFactory();
  });
  afterAll(() => factory.close());

  it('moves 100 MB each way byte-exactly and ends gracefully', async () => {
    const { peerA, peerB, a, b } = await rig();
    const before = spliceRelayTotals();
    const relay = spliceRelay(a, b);
    const total = 100 * 1024 * 1024;
    const gotAtB = digestUntilEnd(peerB);
    const gotAtA = digestUntilEnd(peerA);
    const [sentA, sentB] = await Promise.all([send(peerA, total, true), send(peerB, total, true)]);
    const [atB, atA] = await Promise.all([gotAtB, gotAtA]);
    expect(atB).toEqual({ bytes: total, sha256: sentA });
    expect(atA).toEqual({ bytes: total, sha256: sentB });
    const result = await relay.done;
    expect(result).toEqual({ bytesAtoB: total, bytesBtoA: total, reason: 'eof' });
    expect(a.destroyed && b.destroyed).toBe(true);
    const after = spliceRelayTotals();
    expect(after.bytesAtoB - before.bytesAtoB).toBe(total);
    expect(after.bytesBtoA - before.bytesBtoA).toBe(total);
    peerA.destroy();
    peerB.destroy();
  }, 60_000);

  for (const first of ['A', 'B'] as const) {
    it(`passes a half-close from peer ${first} while the other side keeps sending`, async () => {
      const r = await rig();
      const relay = spliceRelay(r.a, r.b);
      const [closer, talker] = first === 'A' ? [r.peerA, r.peerB] : [r.peerB, r.peerA];
      const atTalker = digestUntilEnd(talker);
      const atCloser = digestUntilEnd(closer);
      const closerHash = await send(closer, 1000, true);
      // The talker sees the end first, then keeps sending for a while.
      expect(await atTalker).toEqual({ bytes: 1000, sha256: closerHash });
      const talkerHash = await send(talker, 3 * 1024 * 1024, false);
      await new Promise((resolve) => setTimeout(resolve, 20));
      talker.end();
      expect(await atCloser).toEqual({ bytes: 3 * 1024 * 1024, sha256: talkerHash });
      const result = await relay.done;
      expect(result.reason).toBe('eof');
      expect(first === 'A' ? result.bytesAtoB : result.bytesBtoA).toBe(1000);
      r.peerA.destroy();
      r.peerB.destroy();
    });
  }

  it('resets the other side when one side resets, and says which', async () => {
    const { peerA, peerB, a, b } = await rig();
    const relay = spliceRelay(a, b);
    peerA.write('hello');
    await new Promise((resolve) => peerB.once('data', resolve));
    const peerBError = errorOf(peerB);
    peerA.resetAndDestroy();
    const result = await relay.done;
    expect(result).toMatchObject({ reason: 'error', side: 'a', code: 'ECONNRESET', bytesAtoB: 5 });
    expect(await peerBError).toBe('ECONNRESET');
    await closed(a);
    await closed(b);
  });

  it('cancel() mid-transfer stops the pair and resets both peers', async () => {
    const { peerA, peerB, a, b } = await rig();
    const relay: SplicedPair = spliceRelay(a, b);
    const errA = errorOf(peerA);
    const errB = errorOf(peerB);
    let received = 0;
    peerB.on('data', (d: Buffer) => {
      received += d.length;
    });
    // peerA keeps sending until the reset arrives.
    const sending = send(peerA, 1 << 30, false).catch(() => 'stopped');
    while (received < 4 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 5));
    relay.cancel();
    const result = await relay.done;
    expect(result.reason).toBe('cancelled');
    expect(result.bytesAtoB).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    // A RST that reaches a receiver with unread bytes queued surfaces in Node as an early 'end' (Linux keeps
    // the queued bytes readable, then reports EOF; plain sockets do the same): either way the stream stops short.
    expect(['ECONNRESET', 'end']).toContain(await errB);
    expect(received).toBeLessThanOrEqual(result.bytesAtoB);
    expect(await errA).toMatch(/ECONNRESET|EPIPE/);
    await sending;
    peerB.destroy();
  });

  it('a socket destroyed by its owner cancels the pair (the other side is reset)', async () => {
    const { peerA, peerB, a, b } = await rig();
    const relay = spliceRelay(a, b);
    const errA = errorOf(peerA);
    const errB = errorOf(peerB);
    a.resetAndDestroy(); // e.g. the stack shutting down
    expect(await relay.done).toMatchObject({ reason: 'cancelled' });
    expect(await errA).toBe('ECONNRESET');
    expect(await errB).toBe('ECONNRESET');
  });

  it('writes bytes Node had already buffered before the hand-over, in order', async () => {
    const { peerA, peerB, a, b } = await rig();
    a.pause();
    peerA.write('early bytes|');
    while (a.readableLength === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(canSplice(a)).toBe(true);
    const relay = spliceRelay(a, b);
    const got = digestUntilEnd(peerB);
    const back = digestUntilEnd(peerA);
    peerA.end('late bytes');
    peerB.end();
    const expected = createHash('sha256').update('early bytes|late bytes').digest('hex');
    expect(await got).toEqual({ bytes: 22, sha256: expected });
    await back;
    expect(await relay.done).toEqual({ bytesAtoB: 22, bytesBtoA: 0, reason: 'eof' });
    peerA.destroy();
    peerB.destroy();
  });

  it('falls back to Node streams with one warning and a typed reason when the socket internals differ', async () => {
    const warnings = collectWarnings();
    try {
      for (let round = 0; round < 2; round++) {
        const { peerA, peerB, a, b } = await rig();
        // What a Node whose TCPWrap lost readStop would look like to the hand-over.
        Object.defineProperty((a as unknown as { _handle: object })._handle, 'readStop', {
          value: undefined,
        });
        expect(canSplice(a)).toBe(true); // a plain connected TCP socket: only the internals are off
        const result = await spliceRelay(a, b).done;
        expect(result).toEqual({
          bytesAtoB: 0,
          bytesBtoA: 0,
          reason: 'fallback',
          cause: 'node-internals',
          detail: 'socket._handle has no readStart/readStop',
        });
        const atB = digestUntilEnd(peerB);
        const atA = digestUntilEnd(peerA);
        const [ha, hb] = await Promise.all([send(peerA, 500_000, true), send(peerB, 1000, true)]);
        expect(await atB).toEqual({ bytes: 500_000, sha256: ha });
        expect(await atA).toEqual({ bytes: 1000, sha256: hb });
        for (const s of [peerA, peerB, a, b]) s.destroy();
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.list.filter((w) => /readStart\/readStop/.test(w))).toHaveLength(1); // once, not per pair
    } finally {
      warnings.stop();
    }
  });

  it('refuses and reports an attempt to restart reading a handed-over socket; the bytes stay exact', async () => {
    const warnings = collectWarnings();
    try {
      const { peerA, peerB, a, b } = await rig();
      const relay = spliceRelay(a, b);
      const atB = digestUntilEnd(peerB);
      peerA.write('before|');
      await new Promise((resolve) => setImmediate(resolve));
      // Node stopped reading `a` synchronously in spliceRelay. A Node path that starts reading again without
      // the socket's own _read (internals drifted) is refused, so the relay still gets every byte.
      (net.Socket.prototype as unknown as { _read(n: number): void })._read.call(a, 16384);
      peerA.end('after');
      peerB.end();
      const expected = createHash('sha256').update('before|after').digest('hex');
      expect(await atB).toEqual({ bytes: 12, sha256: expected });
      expect((await relay.done).reason).toBe('eof');
      expect(warnings.list.filter((w) => /tried to restart reading/.test(w))).toHaveLength(1);
      peerA.destroy();
      peerB.destroy();
    } finally {
      warnings.stop();
    }
  });

  it('tells a TCP socket from its handle, without getpeername(2)', async () => {
    const { peerA, peerB, a, b } = await rig();
    // remoteFamily/remoteAddress go through the socket's _getpeername (lib/net.js), once per socket.
    const peernames = vi.spyOn(b as unknown as { _getpeername(): unknown }, '_getpeername');
    expect(canSplice(b)).toBe(true);
    expect(peernames).not.toHaveBeenCalled();
    for (const s of [peerA, peerB, a, b]) s.destroy();
  });

  it('refuses a Unix socket', async () => {
    const path = join(tmpdir(), `ztun-splice-${process.pid}.sock`);
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const c = net.connect(path);
    await new Promise((resolve) => c.once('connect', resolve));
    expect(canSplice(c)).toBe(false);
    c.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses sockets it cannot take (not connected, ended, not a socket)', async () => {
    const { peerA, peerB, a, b } = await rig();
    expect(canSplice(new net.Socket())).toBe(false);
    expect(canSplice({})).toBe(false);
    b.end();
    expect(canSplice(b)).toBe(false);
    expect(() => spliceRelay(a, b)).toThrow(TypeError);
    for (const s of [peerA, peerB, a, b]) s.destroy();
  });

  it('runs 200 pairs at once and leaks no fd', async () => {
    // Warm up so the relay thread's epoll/eventfd exist before counting.
    const fdsBefore = fdCount();
    const rigs: Rig[] = [];
    for (let i = 0; i < 200; i++) rigs.push(await rig());
    const relays = rigs.map((r) => spliceRelay(r.a, r.b));
    const results = await Promise.all(
      rigs.map(async (r, i) => {
        const size = 64 * 1024 + i * 997;
        const atB = digestUntilEnd(r.peerB);
        const atA = digestUntilEnd(r.peerA);
        const [ha, hb] = await Promise.all([send(r.peerA, size, true), send(r.peerB, size >> 1, true)]);
        expect(await atB).toEqual({ bytes: size, sha256: ha });
        expect(await atA).toEqual({ bytes: size >> 1, sha256: hb });
        return relays[i]!.done;
      }),
    );
    for (const r of results) expect(r.reason).toBe('eof');
    for (const r of rigs) {
      r.peerA.destroy();
      r.peerB.destroy();
    }
    await Promise.all(rigs.flatMap((r) => [closed(r.peerA), closed(r.peerB), closed(r.a), closed(r.b)]));
    expect(fdCount()).toBe(fdsBefore);
  }, 60_000);
});
