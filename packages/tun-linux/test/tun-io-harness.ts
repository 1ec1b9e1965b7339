// The native TunIo over an AF_UNIX socketpair (which keeps packet boundaries like a TUN fd, and can be filled
// until write(2) says EAGAIN — a TUN almost never does): shared by native-io.test.ts and write-thread.test.ts.
import koffi from 'koffi';
import { afterEach, expect } from 'vitest';
import { type NativeTunIo, type TunIoOptions, tunIoAddon } from '../src/tun-io.linux.js';

export const linux = process.platform === 'linux';

export const AF_UNIX = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export interface Sys {
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  close(fd: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  shutdown(fd: number, how: number): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, len: number): number;
}

let sys: Sys | undefined;
export function libc(): Sys {
  if (!sys) {
    const lib = koffi.load('libc.so.6');
    sys = {
      socketpair: lib.func('int socketpair(int, int, int, _Out_ int32_t *fds)'),
      send: lib.func('long send(int, const uint8_t *, size_t, int)'),
      recv: lib.func('long recv(int, _Out_ uint8_t *, size_t, int)'),
      close: lib.func('int close(int)'),
      fcntl: lib.func('int fcntl(int, int, int)'),
      shutdown: lib.func('int shutdown(int, int)'),
      setsockopt: lib.func('int setsockopt(int, int, int, const int32_t *, uint32_t)'),
    } as unknown as Sys;
  }
  return sys;
}

export const F_GETFD = 1;
export const F_GETFL = 3;
export const O_NONBLOCK = 0o4000;
export const SOCK_STREAM = 1;

export interface Harness {
  io: NativeTunIo;
  /** The fd handed to the addon (the addon owns and closes it). */
  fd: number;
  peer: number;
  counters: Float64Array;
  batches: number[];
  received: number[]; // first 4 bytes (sequence number) of every packet delivered
  errors: [string, number][];
}

const open: Harness[] = [];

/** The index of a counter in the shared Float64Array, as the addon defines it. */
export const counter = (name: keyof ReturnType<typeof tunIoAddon>['counters']['index']) =>
  tunIoAddon().counters.index[name];

export function harness(opts: {
  batchSize: number;
  queueLimit: number;
  slotSize?: number;
  batchesPerWake?: number;
  type?: number;
  blocking?: boolean;
  writeThread?: boolean;
}) {
  const fds = new Int32Array(2);
  const type = (opts.type ?? SOCK_DGRAM) | SOCK_CLOEXEC | (opts.blocking ? 0 : SOCK_NONBLOCK);
  expect(libc().socketpair(AF_UNIX, type, 0, fds)).toBe(0);
  const slotSize = opts.slotSize ?? 2048;
  const slab = new ArrayBuffer(opts.batchSize * slotSize);
  const data = new Uint8Array(slab);
  const lengths = new Uint32Array(opts.batchSize);
  const { TunIo, counters: layout } = tunIoAddon();
  const counters = new Float64Array(layout.count);
  const h: Harness = {
    io: undefined as unknown as NativeTunIo,
    fd: fds[0]!,
    peer: fds[1]!,
    counters,
    batches: [],
    received: [],
    errors: [],
  };
  const dv = new DataView(slab);
  const options: TunIoOptions = {
    fd: fds[0]!,
    slab,
    lengths,
    counters,
    slotSize,
    batchSize: opts.batchSize,
    queueLimit: opts.queueLimit,
    batchesPerWake: opts.batchesPerWake ?? 1,
    ...(opts.writeThread ? { writeThread: true } : {}),
    onBatch: (count) => {
      h.batches.push(count);
      for (let i = 0; i < count; i++) {
        expect(lengths[i]).toBeGreaterThanOrEqual(4);
        h.received.push(dv.getUint32(i * slotSize));
      }
      expect(data.byteLength).toBe(opts.batchSize * slotSize);
    },
    onError: (operation, errno) => h.errors.push([operation, errno]),
  };
  h.io = new TunIo(options);
  open.push(h);
  return h;
}

export function packet(seq: number, size: number): Uint8Array {
  const p = new Uint8Array(size);
  new DataView(p.buffer).setUint32(0, seq);
  return p;
}

afterEach(() => {
  for (const h of open.splice(0)) {
    h.io.close();
    libc().close(h.peer);
  }
});
