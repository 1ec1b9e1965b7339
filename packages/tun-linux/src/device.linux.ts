import { read as fsRead, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import { RtNetlink } from '@ztun/routing-linux';
import { loadAddon, type NativeTunIo } from './addon.linux.js';
import { errnoName, TunError, TunUnsupportedError } from './errors.js';
import {
  decodeIfreqName,
  encodeIfreq,
  IFF_NO_PI,
  IFF_TUN,
  IFF_VNET_HDR,
  invalidInterfaceName,
  slotSizeFor,
  TUN_F_CSUM,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
} from './ifreq.js';
import { getLibc, lastErrno, O_CLOEXEC, O_NONBLOCK, O_RDWR } from './libc.linux.js';
import type { DeviceCounters, OpenTunOptions, PacketBatch, TunDevice } from './types.js';

const DEFAULT_MTU = 1500;
const DEFAULT_BATCH = 64;
const MAX_SLAB_BYTES = 8 << 20;
const DEFAULT_QUEUE_LIMIT = 1024;
const DEFAULT_BATCHES_PER_WAKE = 4;

// Indexes into the counters Float64Array shared with the addon (native/tun_io.cc, enum Counter).
const RX_PACKETS = 0;
const RX_BYTES = 1;
const TX_PACKETS = 2;
const TX_BYTES = 3;
const RX_DROPPED = 4;
const TX_DROPPED = 5;
const COUNTER_COUNT = 6;

/** Live view of the counters the I/O engine updates; reading a field costs no call into native code. */
class CountersView implements Readonly<DeviceCounters> {
  constructor(private readonly c: Float64Array) {}
  get rxPackets(): number {
    return this.c[RX_PACKETS]!;
  }
  get rxBytes(): number {
    return this.c[RX_BYTES]!;
  }
  get txPackets(): number {
    return this.c[TX_PACKETS]!;
  }
  get txBytes(): number {
    return this.c[TX_BYTES]!;
  }
  get rxDropped(): number {
    return this.c[RX_DROPPED]!;
  }
  get txDropped(): number {
    return this.c[TX_DROPPED]!;
  }
  toJSON(): DeviceCounters {
    return {
      rxPackets: this.rxPackets,
      rxBytes: this.rxBytes,
      txPackets: this.txPackets,
      txBytes: this.txBytes,
      rxDropped: this.rxDropped,
      txDropped: this.txDropped,
    };
  }
}

/** A reusable batch whose count the engine rewrites before each delivery. */
interface MutableBatch {
  count: number;
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  flags?: Uint8Array;
}

interface Engine {
  setReading(on: boolean): void;
  writeBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    flags: Uint8Array | undefined,
  ): void;
  write(packet: Uint8Array): void;
  queueLength(): number;
  close(): Promise<void>;
}

interface EngineHooks {
  deliver(batch: PacketBatch): void;
  fail(operation: string, errno: number): void;
}

function makeBatch(batchSize: number, slotSize: number): MutableBatch {
  const data = new Uint8Array(new ArrayBuffer(batchSize * slotSize));
  const offsets = new Uint32Array(batchSize);
  for (let i = 0; i < batchSize; i++) offsets[i] = i * slotSize;
  return { count: 0, data, offsets, lengths: new Uint32Array(batchSize) };
}

/** The addon: epoll via uv_poll on the loop, batched reads into one slab, batched writes in one call. */
class NativeEngine implements Engine {
  private readonly io: NativeTunIo;

  constructor(
    private readonly fd: number,
    slotSize: number,
    batchSize: number,
    queueLimit: number,
    batchesPerWake: number,
    counters: Float64Array,
    hooks: EngineHooks,
    private readonly offload: boolean,
  ) {
    const batch = makeBatch(batchSize, slotSize);
    if (offload) batch.flags = new Uint8Array(batchSize);
    const { TunIo } = loadAddon();
    this.io = new TunIo(
      fd,
      batch.data.buffer as ArrayBuffer,
      batch.lengths,
      slotSize,
      batchSize,
      queueLimit,
      counters,
      (count) => {
        batch.count = count;
        hooks.deliver(batch);
      },
      (operation, errno) => hooks.fail(operation, errno),
      batchesPerWake,
      batch.flags,
    );
  }

  setReading(on: boolean): void {
    if (on) this.io.resume();
    else this.io.pause();
  }

  writeBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    flags: Uint8Array | undefined,
  ): void {
    // Flags matter only to an offload fd (a plain one would get a NEEDS_CSUM packet it cannot take).
    this.io.writeBatch(data, offsets, lengths, count, this.offload ? flags : undefined);
  }

  write(packet: Uint8Array): void {
    this.io.write(packet);
  }

  queueLength(): number {
    return this.io.queueLength();
  }

  async close(): Promise<void> {
    this.io.close(); // stops polling first, so closing the fd next is safe
    getLibc().close(this.fd);
  }
}

/**
 * The slow baseline: a blocking fd, `fs.read` on libuv's threadpool with one packet per call, `fs.writeSync`
 * per packet. For benchmarks; it cannot wait for writability and holds a threadpool thread while idle.
 */
class ThreadpoolEngine implements Engine {
  private reading = false;
  private inFlight = false;
  private closing = false;
  private pending = false; // a packet read while paused, delivered on resume
  private readonly batch: MutableBatch;
  private readDone?: () => void;

  constructor(
    private readonly fd: number,
    slotSize: number,
    private readonly counters: Float64Array,
    private readonly hooks: EngineHooks,
    private readonly netlink: RtNetlink,
    private readonly index: number,
  ) {
    this.batch = makeBatch(1, slotSize);
    this.batch.count = 1;
  }

  setReading(on: boolean): void {
    this.reading = on;
    if (!on) return;
    if (!this.pending) {
      this.next();
      return;
    }
    // The packet read while paused goes out from the loop, not from inside resume().
    setImmediate(() => {
      if (!this.reading || !this.pending || this.closing) return;
      this.pending = false;
      this.hooks.deliver(this.batch);
      this.next();
    });
  }

  private next(): void {
    if (!this.reading || this.inFlight || this.closing || this.pending) return;
    this.inFlight = true;
    fsRead(this.fd, this.batch.data, 0, this.batch.data.length, null, (err, n) => {
      this.inFlight = false;
      if (this.closing) {
        this.readDone?.();
        return;
      }
      if (err) {
        const errno = -(err.errno ?? -5);
        if (errno === 14) {
          this.counters[RX_DROPPED]! += 1; // EFAULT: larger than the slot
          this.next();
          return;
        }
        this.hooks.fail('read', errno);
        return;
      }
      if (n === 0 || n >= this.batch.data.length) {
        this.counters[RX_DROPPED]! += 1; // a full slot: the kernel cut an oversize packet
        this.next();
        return;
      }
      this.batch.lengths[0] = n;
      this.counters[RX_PACKETS]! += 1;
      this.counters[RX_BYTES]! += n;
      if (!this.reading) {
        this.pending = true;
        return;
      }
      this.hooks.deliver(this.batch);
      this.next();
    });
  }

  writeBatch(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    for (let i = 0; i < count; i++) this.writeRange(data, offsets[i]!, lengths[i]!);
  }

  write(packet: Uint8Array): void {
    this.writeRange(packet, 0, packet.length);
  }

  private writeRange(data: Uint8Array, offset: number, length: number): void {
    if (this.closing || length === 0 || offset + length > data.length) {
      this.counters[TX_DROPPED]! += 1;
      return;
    }
    try {
      writeSync(this.fd, data, offset, length);
      this.counters[TX_PACKETS]! += 1;
      this.counters[TX_BYTES]! += length;
    } catch {
      this.counters[TX_DROPPED]! += 1;
    }
  }

  queueLength(): number {
    return 0;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.inFlight) {
      // A blocking read cannot be cancelled; deleting the link detaches the fd and wakes it (EFAULT).
      const done = new Promise<void>((resolve) => {
        this.readDone = resolve;
      });
      try {
        this.netlink.deleteLink(this.index);
      } catch {
        // ENODEV: already gone, so the read has returned or will
      }
      await done;
    }
    this.netlink.close();
    getLibc().close(this.fd);
  }
}

/** A Linux TUN device (IFF_TUN | IFF_NO_PI, + IFF_VNET_HDR with `offload`). Implements TunDevice from docs/architecture.md. */
export class LinuxTun implements TunDevice {
  readonly counters: Readonly<DeviceCounters>;
  private readonly counterValues = new Float64Array(COUNTER_COUNT);
  private readonly engine: Engine;
  private receiver: ((batch: PacketBatch) => void) | undefined;
  private readonly errorListeners: ((err: Error) => void)[] = [];
  private paused = false;
  private closed: Promise<void> | undefined;

  /** @internal use openTun / openTunSync */
  constructor(
    readonly name: string,
    readonly index: number,
    readonly mtu: number,
    /** The TUN file descriptor, for diagnostics (-1 after close). */
    private fdValue: number,
    makeEngine: (counters: Float64Array, hooks: EngineHooks) => Engine,
  ) {
    this.counters = new CountersView(this.counterValues);
    this.engine = makeEngine(this.counterValues, {
      deliver: (batch) => this.deliver(batch),
      fail: (operation, errno) => this.emitError(TunError.fromErrno(`${operation} ${this.name}`, errno)),
    });
  }

  get fd(): number {
    return this.fdValue;
  }

  /** Packets waiting in the write queue for the device to become writable. */
  get writeQueueLength(): number {
    return this.closed ? 0 : this.engine.queueLength();
  }

  onBatch(receiver: (batch: PacketBatch) => void): void {
    this.receiver = receiver;
    this.updateReading();
  }

  pause(): void {
    this.paused = true;
    this.updateReading();
  }

  resume(): void {
    this.paused = false;
    this.updateReading();
  }

  writeBatch(batch: PacketBatch): void {
    if (this.closed) {
      this.counterValues[TX_DROPPED]! += batch.count;
      return;
    }
    this.engine.writeBatch(batch.data, batch.offsets, batch.lengths, batch.count, batch.flags);
  }

  write(packet: Uint8Array): void {
    if (this.closed) {
      this.counterValues[TX_DROPPED]! += 1;
      return;
    }
    this.engine.write(packet);
  }

  onError(listener: (err: Error) => void): void {
    this.errorListeners.push(listener);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = this.engine.close().finally(() => {
        this.fdValue = -1;
      });
    }
    return this.closed;
  }

  private updateReading(): void {
    if (this.closed) return;
    this.engine.setReading(this.receiver !== undefined && !this.paused);
  }

  private deliver(batch: PacketBatch): void {
    try {
      this.receiver!(batch);
    } catch (err) {
      this.emitError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private emitError(err: Error): void {
    if (this.errorListeners.length === 0) {
      process.emitWarning(err);
      return;
    }
    for (const listener of this.errorListeners) {
      try {
        listener(err);
      } catch (thrown) {
        // A throwing error listener is a bug in the caller: surface it as any uncaught callback error.
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
  }
}

function checkInteger(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TunError(`option ${option}`, 'EINVAL', 22, `${value} is not an integer in ${min}…${max}`);
  }
  return value;
}

function checkCidr(cidr: string): void {
  const [ip = '', len, extra] = typeof cidr === 'string' ? cidr.split('/') : [];
  const family = isIP(ip);
  const bits = family === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : Number(len);
  if (!family || extra !== undefined || !/^\d{0,3}$/.test(len ?? '') || prefix > bits) {
    throw new TunError('option addresses', 'EINVAL', 22, `"${cidr}" is not an IPv4 or IPv6 address/prefix`);
  }
}

/** Runs a netlink step; a refusal becomes a TunError naming the step. */
function netlinkStep<T>(operation: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === 'number' && errno > 0) {
      throw new TunError(operation, errnoName(errno), errno, (err as Error).message, { cause: err });
    }
    throw err;
  }
}

/**
 * Opens a TUN device synchronously: every namespace-sensitive step (the fd, TUNSETIFF, the netlink socket
 * and its configuration) happens before it returns, so it can run inside `runInNetns(ns, () => …)`; the
 * device stays in that namespace.
 */
export function openTunSync(options: OpenTunOptions = {}): LinuxTun {
  if (options.multiQueue) {
    throw new TunUnsupportedError('multiQueue', 'IFF_MULTI_QUEUE devices are not implemented yet');
  }
  const requested = options.name ?? '';
  if (options.name !== undefined) {
    const why = invalidInterfaceName(options.name);
    if (why) throw new TunError('TUNSETIFF', 'EINVAL', 22, why);
  }
  const mtu = checkInteger('mtu', options.mtu ?? DEFAULT_MTU, 68, 65535);
  const slotSize = slotSizeFor(mtu);
  const batchSize = checkInteger(
    'batchSize',
    options.batchSize ?? Math.max(1, Math.min(DEFAULT_BATCH, Math.floor(MAX_SLAB_BYTES / slotSize))),
    1,
    65536,
  );
  const queueLimit = checkInteger('queueLimit', options.queueLimit ?? DEFAULT_QUEUE_LIMIT, 0, 1 << 20);
  const batchesPerWake = checkInteger(
    'batchesPerWake',
    options.batchesPerWake ?? DEFAULT_BATCHES_PER_WAKE,
    1,
    1024,
  );
  const io = options.io ?? 'native';
  if (io !== 'native' && io !== 'threadpool') {
    throw new TunError('option io', 'EINVAL', 22, `"${String(io)}" is neither "native" nor "threadpool"`);
  }
  const offload = options.offload === true;
  if (offload && io !== 'native') {
    throw new TunUnsupportedError('offload', 'checksum offload needs the native I/O engine (io: "native")');
  }
  const addresses = options.addresses ?? [];
  for (const cidr of addresses) checkCidr(cidr);
  if (io === 'native') loadAddon(); // fail before any fd exists

  const libc = getLibc();
  const devicePath = options.devicePath ?? '/dev/net/tun';
  const fd = libc.open(devicePath, O_RDWR | O_CLOEXEC | (io === 'native' ? O_NONBLOCK : 0));
  if (fd < 0) throw TunError.fromErrno(`open ${devicePath}`, lastErrno());

  let netlink: RtNetlink | undefined;
  try {
    const ifreq = encodeIfreq(requested, IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
    if (libc.ioctl(fd, TUNSETIFF, 'uint8_t *', ifreq) < 0) {
      const errno = lastErrno();
      throw TunError.fromErrno(
        'TUNSETIFF',
        errno,
        requested ? `name "${requested}": ${errnoName(errno)}` : undefined,
      );
    }
    const name = decodeIfreqName(ifreq);
    if (offload) {
      // A 10-byte struct virtio_net_hdr on every read/write (the kernel's default, set explicitly), and
      // TUN_F_CSUM only: partial checksums both ways, no GSO super-packets (the stack handles one MTU each).
      if (libc.ioctl(fd, TUNSETVNETHDRSZ, 'int *', Uint8Array.of(10, 0, 0, 0)) < 0) {
        throw TunError.fromErrno('TUNSETVNETHDRSZ', lastErrno());
      }
      if (libc.ioctl(fd, TUNSETOFFLOAD, 'unsigned long', TUN_F_CSUM) < 0) {
        throw TunError.fromErrno('TUNSETOFFLOAD', lastErrno());
      }
    }
    netlink = netlinkStep('open rtnetlink socket', () => RtNetlink.open());
    const nl = netlink;
    const link = netlinkStep(`get link ${name}`, () => nl.getLink(name));
    if (link.mtu !== mtu) netlinkStep(`set mtu ${mtu} on ${name}`, () => nl.setLink(link.index, { mtu }));
    for (const cidr of addresses) {
      netlinkStep(`add address ${cidr} on ${name}`, () => nl.addAddress({ index: link.index, cidr }));
    }
    if (options.up !== false) netlinkStep(`set ${name} up`, () => nl.setLink(link.index, { up: true }));

    // The threadpool engine deletes the link at close to wake its blocked read: it keeps this socket, which
    // belongs to the device's namespace.
    const keepNetlink = io === 'threadpool';
    const device = new LinuxTun(name, link.index, mtu, fd, (counters, hooks) =>
      keepNetlink
        ? new ThreadpoolEngine(fd, slotSize, counters, hooks, nl, link.index)
        : new NativeEngine(fd, slotSize, batchSize, queueLimit, batchesPerWake, counters, hooks, offload),
    );
    if (keepNetlink) netlink = undefined;
    return device;
  } catch (err) {
    libc.close(fd); // a non-persistent TUN disappears with its last fd
    throw err;
  } finally {
    netlink?.close();
  }
}

/** Opens a TUN device (see openTunSync; the work is synchronous, this is the promise-shaped entry point). */
export async function openTun(options: OpenTunOptions = {}): Promise<LinuxTun> {
  return openTunSync(options);
}
