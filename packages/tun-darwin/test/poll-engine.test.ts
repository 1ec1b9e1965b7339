/**
 * The koffi poll engine of utun.darwin.ts (poll on koffi's worker thread, wake pipe, non-blocking
 * reads/writes) driven with REAL file descriptors: an AF_UNIX datagram socketpair stands in for the utun
 * socket (same datagram semantics). Runs on Linux through libc.so.6 (errno translated to darwin's numbers,
 * which is all the engine compares) and on macOS through libSystem.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadKoffi } from '@ztun/routing-darwin';
import { skipUnless } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { EAGAIN, frameUtunPacket, UtunDevice } from '../src/index.js';
import { KoffiUtunFd, type Libc, type NativeFn } from '../src/utun.darwin.js';

const supported = process.platform === 'linux' || process.platform === 'darwin';

const LINUX_TO_DARWIN_ERRNO: Record<number, number> = { 11: 35, 105: 55, 9: 9, 4: 4, 111: 61 };

interface Harness {
  libc: Libc;
  fcntl: NativeFn;
  socketpair: NativeFn;
  oNonblock: number;
}

async function harness(): Promise<Harness> {
  const koffi = await loadKoffi();
  const linux = process.platform === 'linux';
  const lib = koffi.load(linux ? 'libc.so.6' : '/usr/lib/libSystem.B.dylib');
  const fn = (decl: string) => lib.func(decl) as unknown as NativeFn;
  const unused = (() => {
    throw new Error('not used by KoffiUtunFd');
  }) as unknown as NativeFn;
  const errno = () => {
    const e = koffi.errno();
    return linux ? (LINUX_TO_DARWIN_ERRNO[e] ?? e) : e;
  };
  const libc: Libc = {
    koffi: { errno, decode: koffi.decode } as Libc['koffi'],
    socket: unused,
    connect: unused,
    getsockopt: unused,
    ioctl: unused,
    if_nametoindex: unused,
    fcntl: unused,
    close: fn('int close(int fd)'),
    read: fn('long read(int fd, void *buf, size_t count)'),
    write: fn('long write(int fd, const void *buf, size_t count)'),
    poll: fn('int poll(void *fds, unsigned long nfds, int timeout)'),
    pipe: fn('int pipe(void *fds)'),
  };
  return {
    libc,
    fcntl: fn('int fcntl(int fd, int cmd, ...)'),
    socketpair: fn('int socketpair(int domain, int type, int protocol, void *sv)'),
    oNonblock: linux ? 0x800 : 0x4,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

// poll(2) / ppoll(2) numbers in /proc/PID/task/TID/syscall (Linux proc(5)): x86_64 has both, arm64 only ppoll.
const POLL_SYSCALLS: Record<string, string[]> = { x64: ['7', '271'], arm64: ['73'] };
const pollSyscallVisible = () => process.platform === 'linux' && POLL_SYSCALLS[process.arch] !== undefined;

/** Some thread of this process sits in poll/ppoll on two fds (the utun fd and the wake pipe). */
function engineBlockedInPoll(): boolean {
  const numbers = POLL_SYSCALLS[process.arch]!;
  for (const tid of readdirSync('/proc/self/task')) {
    let fields: string[];
    try {
      fields = readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').trim().split(' ');
    } catch {
      continue; // the thread ended meanwhile
    }
    if (numbers.includes(fields[0]!) && fields[2] === '0x2') return true;
  }
  return false;
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function ipv4(id: number): Uint8Array {
  const p = new Uint8Array(60);
  p[0] = 0x45;
  p[4] = id >> 8;
  p[5] = id & 0xff;
  return p;
}

describe(
  'KoffiUtunFd + UtunDevice over a real datagram socketpair',
  skipUnless(supported, `the poll-engine test loads libc: Linux or macOS (this is ${process.platform})`),
  () => {
    const cleanups: (() => void | Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function setup(options = {}) {
      const h = await harness();
      const nonblock = (fd: number) => {
        const flags = h.fcntl(fd, 3 /* F_GETFL */);
        expect(h.fcntl(fd, 4 /* F_SETFL */, 'int', flags | h.oNonblock)).toBe(0);
      };
      const sv = new Int32Array(2);
      expect(h.socketpair(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */, 0, sv)).toBe(0);
      const wake = new Int32Array(2);
      expect(h.libc.pipe(wake)).toBe(0);
      for (const fd of [sv[0]!, sv[1]!, wake[0]!, wake[1]!]) nonblock(fd);
      const peer = sv[1]!;
      const fd = new KoffiUtunFd(h.libc, sv[0]!, wake[0]!, wake[1]!);
      const dev = new UtunDevice(fd, { name: 'utun99', index: 99, mtu: 1500 }, options);
      cleanups.push(
        () => dev.close(),
        () => void h.libc.close(peer),
      );
      const sendFromPeer = (datagram: Uint8Array) => Number(h.libc.write(peer, datagram, datagram.length));
      const received: string[] = [];
      const buf = new Uint8Array(2048);
      const drainPeer = () => {
        for (;;) {
          const n = Number(h.libc.read(peer, buf, buf.length));
          if (n < 0) return;
          received.push(hex(buf.subarray(0, n)));
        }
      };
      const until = async (what: () => boolean, ms = 5000) => {
        const end = Date.now() + ms;
        while (!what()) {
          if (Date.now() > end) throw new Error('timed out');
          drainPeer();
          await sleep(2);
        }
      };
      return { h, dev, sendFromPeer, drainPeer, received, until, peer };
    }

    it('echoes packets: poll wakes the device, headers stripped and re-added in place', async () => {
      const { dev, sendFromPeer, received, until } = await setup();
      const seen: number[] = [];
      dev.onBatch((batch) => {
        seen.push(batch.count);
        dev.writeBatch(batch);
      });
      const sent = Array.from({ length: 300 }, (_, i) => frameUtunPacket(ipv4(i))!);
      // The peer's queue toward the device is short (net.unix.max_dgram_qlen): send as it drains.
      for (let i = 0; i < sent.length; ) {
        if (sendFromPeer(sent[i]!) === 64) i++;
        else await sleep(1);
      }
      await until(() => received.length === 300);
      expect(received).toEqual(sent.map(hex));
      expect(dev.counters).toMatchObject({ rxPackets: 300, txPackets: 300, rxDropped: 0, txDropped: 0 });
      expect(Math.max(...seen)).toBeGreaterThan(1); // batched, not one packet per wake-up
    });

    it('when the kernel queue is full, packets wait in the queue and go out on POLLOUT, in order', async () => {
      const { dev, received, until } = await setup({ queueLimit: 20000 });
      const sent = Array.from({ length: 3000 }, (_, i) => frameUtunPacket(ipv4(i))!);
      for (let i = 0; i < sent.length; i++) dev.write(ipv4(i)); // the peer is not reading yet
      expect(dev.counters.txPackets).toBeLessThan(3000); // some hit EAGAIN and were queued
      await until(() => received.length === 3000);
      expect(received).toEqual(sent.map(hex));
      expect(dev.counters).toMatchObject({ txPackets: 3000, txDropped: 0 });
      expect(EAGAIN).toBe(35);
    });

    it('close() finishes while a poll with no timeout is blocked (the wake pipe ends it) and closes the socket', {
      timeout: 60_000,
    }, async () => {
      const { dev, sendFromPeer } = await setup();
      dev.onBatch(() => {});
      // poll(2) has timeout -1 here, so only the wake pipe can end it: close() resolving at all is the proof.
      // On Linux, first wait until koffi's worker thread is really inside poll (else the wake byte would just be
      // seen by a poll that had not started yet, and the blocked case would go untested).
      if (pollSyscallVisible()) await waitUntil('the engine blocked in poll(2)', engineBlockedInPoll);
      await dev.close();
      expect(sendFromPeer(frameUtunPacket(ipv4(1))!)).toBeLessThan(0); // the other end is gone
    });
  },
);
