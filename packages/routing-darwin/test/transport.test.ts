/**
 * The koffi route-socket transport (DarwinRouteSocket: sync write, poll on koffi's worker thread, then a
 * non-blocking recv) driven with REAL file descriptors: an AF_UNIX datagram socketpair stands in for the
 * AF_ROUTE socket and a tiny fake kernel on the other end answers. Linux (libc.so.6, errno and MSG_DONTWAIT
 * translated to darwin's numbers) or macOS (libSystem). What it cannot show: the real AF_ROUTE kernel.
 */
import { skipUnless } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeRouteMessage,
  encodeRouteMessage,
  loadKoffi,
  RouteClient,
  type RouteSocket,
  type RouteSystem,
  RTF_DONE,
  RTM_ADD,
  RTM_GET,
} from '../src/index.js';
import { DarwinRouteSocket, type Libc, type NativeFn } from '../src/route-socket.darwin.js';

const supported = process.platform === 'linux' || process.platform === 'darwin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(
  'DarwinRouteSocket + RouteClient over a real datagram socketpair',
  skipUnless(supported, `the transport test loads libc: Linux or macOS (this is ${process.platform})`),
  () => {
    const cleanups: (() => void)[] = [];
    afterEach(() => {
      for (const c of cleanups.splice(0)) c();
    });

    async function makeSystem(kernel: (request: Uint8Array, send: (bytes: Uint8Array) => void) => void) {
      const koffi = await loadKoffi();
      const linux = process.platform === 'linux';
      const lib = koffi.load(linux ? 'libc.so.6' : '/usr/lib/libSystem.B.dylib');
      const fn = (decl: string) => lib.func(decl) as unknown as NativeFn;
      const recv = fn('long recv(int fd, void *buf, size_t len, int flags)');
      const socketpair = fn('int socketpair(int domain, int type, int protocol, void *sv)');
      const fcntl = fn('int fcntl(int fd, int cmd, ...)');
      const libc = {
        koffi: {
          errno: () =>
            linux
              ? (({ 11: 35, 105: 55, 4: 4 } as Record<number, number>)[koffi.errno()] ?? koffi.errno())
              : koffi.errno(),
        },
        close: fn('int close(int fd)'),
        write: fn('long write(int fd, const void *buf, size_t count)'),
        // darwin's MSG_DONTWAIT is 0x80; Linux's is 0x40.
        recv: ((fd: number, buf: Uint8Array, len: number, flags: number) =>
          recv(fd, buf, len, linux && flags === 0x80 ? 0x40 : flags)) as unknown as NativeFn,
        poll: fn('int poll(void *fds, unsigned long nfds, int timeout)'),
      } as unknown as Libc;
      let opened = 0;
      const system: RouteSystem = {
        pid: process.pid,
        async dumpRoutes() {
          return new Uint8Array(0);
        },
        async openRouteSocket(): Promise<RouteSocket> {
          opened++;
          const sv = new Int32Array(2);
          expect(socketpair(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */, 0, sv)).toBe(0);
          const kernelFd = sv[1]!;
          fcntl(kernelFd, 4 /* F_SETFL */, 'int', linux ? 0x800 : 0x4); // O_NONBLOCK
          const buf = new Uint8Array(4096);
          let stop = false;
          // The fake kernel: picks up requests and answers on the event loop.
          const loop = async () => {
            while (!stop) {
              const n = Number(recv(kernelFd, buf, buf.length, 0));
              if (n > 0) kernel(buf.slice(0, n), (bytes) => libc.write(kernelFd, bytes, bytes.length));
              await sleep(1);
            }
            libc.close(kernelFd);
          };
          void loop();
          cleanups.push(() => {
            stop = true;
          });
          return new DarwinRouteSocket(libc, sv[0]!);
        },
      };
      return { system, opened: () => opened };
    }

    it('writes the request and returns the reply matched by type, seq and pid among foreign messages', async () => {
      const { system } = await makeSystem((request, send) => {
        const m = decodeRouteMessage(request);
        if (!m.ok) throw m.error;
        const echo = (changes = {}) =>
          encodeRouteMessage({ ...m.value, pid: process.pid, flags: m.value.flags | RTF_DONE, ...changes });
        send(echo({ pid: 1 })); // someone else's
        send(echo({ seq: m.value.seq + 100 }));
        send(new Uint8Array([1, 2, 3]));
        send(echo());
      });
      const client = new RouteClient(system, { replyTimeoutMs: 2000 });
      const result = await client.addRoute({ destination: '10.0.0.0/8', gateway: '100.64.0.1' });
      expect(result.reply?.type).toBe(RTM_ADD);
      expect(result.skipped).toBe(3);
      expect((result.reply?.flags ?? 0) & RTF_DONE).toBe(RTF_DONE);
    });

    it('waits no longer than the deadline when nothing answers (real clock)', async () => {
      const { system, opened } = await makeSystem(() => {});
      const client = new RouteClient(system, { replyTimeoutMs: 150, maxAttempts: 2, initialBackoffMs: 10 });
      const t0 = Date.now();
      const add = await client.addRoute({ destination: '10.0.0.0/8', gateway: '100.64.0.1' });
      expect(add.reply).toBeNull();
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(140);
      expect(elapsed).toBeLessThan(1500);
      await expect(client.getRoute('10.1.2.3')).rejects.toThrow(/no reply/);
      expect(opened()).toBe(3); // 1 for the add, 2 attempts for the get
      expect(RTM_GET).toBe(4);
    });
  },
);
