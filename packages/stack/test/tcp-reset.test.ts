import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { StackSockets } from '@ztun/packet';
import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { portableSockets } from '../src/sockets.js';
import { endedByReset, resetTcpSocket } from '../src/tcp-reset.js';

// Node's resetAndDestroy() right after end() (libuv's shutdown request queued) fails with EINVAL and never
// closes the handle: the fd leaks and the process spins at exit. This is what made `ztun` hang after SIGTERM
// now and then at the end of a download. The fixture runs that moment in a child process, with the Linux
// StackSockets (SO_LINGER) from @ztun/tun-linux.
const fixture = fileURLToPath(new URL('./fixtures/reset-after-end.mjs', import.meta.url));

/**
 * Runs the fixture until it exits, or (`killAfterLine`) until it has printed its line: with Node's own reset
 * the process never exits by itself. `deadlineMs` only bounds a hang; it is generous for a busy machine.
 */
function runFixture(mode: 'node' | 'stack', options: { killAfterLine: boolean; deadlineMs: number }) {
  return new Promise<{ code: number | string; line: Record<string, unknown> | undefined }>((resolve) => {
    const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (options.killAfterLine && out.includes('\n')) child.kill('SIGKILL');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const first = out.split('\n')[0];
      resolve({ code: code ?? signal ?? -1, line: first ? JSON.parse(first) : undefined });
    });
  });
}

describe('resetTcpSocket', () => {
  it('resets a socket whose FIN is queued: the peer sees a RST, the socket closes, the process can exit', {
    timeout: 130_000,
    ...skipUnless(
      process.platform === 'linux',
      `the fixture uses linuxSockets (this is ${process.platform})`,
    ),
  }, async () => {
    // Control: the fixture does reach the state where Node's own reset is refused.
    const control = await runFixture('node', { killAfterLine: true, deadlineMs: 60_000 });
    expect(control.line?.state).toBe('ended=true finished=false');

    // The subject: with resetTcpSocket the process exits by itself (a leaked handle would hold it until
    // the deadline's SIGKILL, and the code would say so).
    const r = await runFixture('stack', { killAfterLine: false, deadlineMs: 60_000 });
    expect(r.line).toEqual({
      state: 'ended=true finished=false',
      socketError: null,
      socketClosed: true,
      peerError: 'ECONNRESET',
    });
    expect(r.code).toBe(0);
  });
});

describe('resetTcpSocket and endedByReset use the injected StackSockets', () => {
  /** A connected loopback pair, both sides closed after `body`. */
  async function withPair(body: (server: net.Socket, client: net.Socket) => Promise<void>) {
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
    const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
    client.on('error', () => {});
    const [server] = await accepted;
    server.on('error', () => {});
    try {
      await body(server, client);
    } finally {
      server.destroy();
      client.destroy();
      listener.close();
    }
  }

  function recordingSockets(socketError: number) {
    const calls: string[] = [];
    const sockets: StackSockets = {
      ...portableSockets,
      name: 'recording',
      setLingerZero(fd) {
        calls.push(`linger ${typeof fd}`);
        return true;
      },
      takeSocketError(fd) {
        calls.push(`error ${typeof fd}`);
        return socketError;
      },
    };
    return { sockets, calls };
  }

  it('sets SO_LINGER through `sockets` when the FIN is queued, and destroys the socket', async () => {
    await withPair(async (server) => {
      const { sockets, calls } = recordingSockets(0);
      server.end();
      expect(server.writableEnded && !server.writableFinished).toBe(true);
      resetTcpSocket(server, sockets);
      expect(calls).toEqual(['linger number']);
      expect(server.destroyed).toBe(true);
    });
  });

  it('with the portable default, a socket whose FIN is queued is still destroyed (plain close)', async () => {
    await withPair(async (server) => {
      server.end();
      resetTcpSocket(server);
      expect(server.destroyed).toBe(true);
    });
  });

  it('endedByReset asks `sockets` for SO_ERROR; the portable default cannot tell (false)', async () => {
    await withPair(async (server) => {
      expect(endedByReset(server, recordingSockets(104).sockets)).toBe(true); // ECONNRESET pending
      expect(endedByReset(server, recordingSockets(0).sockets)).toBe(false);
      expect(endedByReset(server)).toBe(false);
      expect(endedByReset(server, { ...portableSockets, takeSocketError: () => -1 })).toBe(false);
    });
  });
});
