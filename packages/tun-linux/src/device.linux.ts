import { type EchoFamilies, type PacketBatch, type TunDevice, tryParseCidr } from '@ztun/packet';
import { RtNetlink } from '@ztun/routing-linux';
import { type Engine, type EngineHooks, LateHooks, type TunOffload } from './engine.linux.js';
import { errnoName, TunError, TunUnsupportedError } from './errors.js';
import {
  decodeIfreqName,
  encodeIfreq,
  GSO_MAX_PACKET,
  IFF_NO_PI,
  IFF_TUN,
  invalidInterfaceName,
  slotSizeFor,
  TUNSETIFF,
} from './ifreq.js';
import { getLibc, lastErrno, O_CLOEXEC, O_RDWR } from './libc.linux.js';
import { NativeEngine } from './native-engine.linux.js';
import { ThreadpoolEngine } from './threadpool-engine.linux.js';
import { type CounterLayout, JS_COUNTER_LAYOUT, type LinuxTunCounters, tunIoAddon } from './tun-io.linux.js';
import type { OpenTunOptions } from './types.js';

const DEFAULT_MTU = 1500;
const DEFAULT_BATCH = 64;
const MAX_SLAB_BYTES = 8 << 20;
const DEFAULT_QUEUE_LIMIT = 1024;
const DEFAULT_BATCHES_PER_WAKE = 4;

/** Live view of the counters the I/O engine updates; reading a field costs no call into native code. */
class CountersView implements Readonly<LinuxTunCounters> {
  constructor(
    private readonly c: Float64Array,
    private readonly i: CounterLayout['index'],
  ) {}
  get rxPackets(): number {
    return this.c[this.i.rxPackets]!;
  }
  get rxBytes(): number {
    return this.c[this.i.rxBytes]!;
  }
  get txPackets(): number {
    return this.c[this.i.txPackets]!;
  }
  get txBytes(): number {
    return this.c[this.i.txBytes]!;
  }
  get rxDropped(): number {
    return this.c[this.i.rxDropped]!;
  }
  get txDropped(): number {
    return this.c[this.i.txDropped]!;
  }
  get gsoPacketsRead(): number {
    return this.c[this.i.gsoPacketsRead]!;
  }
  get gsoPacketsWritten(): number {
    return this.c[this.i.gsoPacketsWritten]!;
  }
  get echoReplies(): number {
    return this.c[this.i.echoReplies]!;
  }
  toJSON(): LinuxTunCounters {
    return {
      rxPackets: this.rxPackets,
      rxBytes: this.rxBytes,
      txPackets: this.txPackets,
      txBytes: this.txBytes,
      rxDropped: this.rxDropped,
      txDropped: this.txDropped,
      gsoPacketsRead: this.gsoPacketsRead,
      gsoPacketsWritten: this.gsoPacketsWritten,
      echoReplies: this.echoReplies,
    };
  }
}

/** A Linux TUN device (IFF_TUN | IFF_NO_PI, + IFF_VNET_HDR with `offload`). Implements TunDevice from docs/architecture.md. */
export class LinuxTun implements TunDevice {
  /** The device contract's counters, plus the TCP super-packets among them (gsoPacketsRead/Written). */
  readonly counters: Readonly<LinuxTunCounters>;
  private readonly txDropped: number;
  private receiver: ((batch: PacketBatch) => void) | undefined;
  private readonly errorListeners: ((err: Error) => void)[] = [];
  private paused = false;
  private closed: Promise<void> | undefined;

  /** @internal use openTun / openTunSync */
  constructor(
    readonly name: string,
    readonly index: number,
    readonly mtu: number,
    private readonly engine: Engine,
    private readonly counterValues: Float64Array,
    layout: CounterLayout,
    hooks: LateHooks,
  ) {
    this.counters = new CountersView(counterValues, layout.index);
    this.txDropped = layout.index.txDropped;
    const target: EngineHooks = {
      deliver: (batch) => this.deliver(batch),
      fail: (operation, errno) => this.emitError(TunError.fromErrno(`${operation} ${this.name}`, errno)),
    };
    hooks.attach(target);
  }

  /**
   * What the kernel took of the `offload` request: checksum offload (PacketBatch.flags) and TSO (TCP
   * super-packets both ways, PacketBatch.gsoSize). With `tso` false despite offload, `note` says why (the
   * kernel refused TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN: checksum offload alone).
   */
  get offload(): TunOffload {
    return this.engine.offload;
  }

  /** The TUN file descriptor, for diagnostics (-1 after close). The I/O engine owns it. */
  get fd(): number {
    return this.engine.fd;
  }

  /** Packets waiting in the write queue for the device to become writable. */
  get writeQueueLength(): number {
    return this.closed ? 0 : this.engine.queueLength();
  }

  /**
   * ICMP echo requests of these families answered by the addon as it reads them (native/icmp_echo.h: the
   * bytes @ztun/packet's echoReplyInPlace makes, for IPv4 with or without options and IPv6 without extension
   * headers, checksums verified), written back at once and counted in counters.echoReplies — no call into JS
   * for a ping. Anything else still reaches the receiver. False with `io: 'threadpool'` (nothing changed).
   */
  answerEchoRequests(families: EchoFamilies): boolean {
    if (this.closed) return false;
    return this.engine.answerEchoRequests((families.ipv4 ? 1 : 0) | (families.ipv6 ? 2 : 0));
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
      this.counterValues[this.txDropped]! += batch.count;
      return;
    }
    this.engine.writeBatch(batch.data, batch.offsets, batch.lengths, batch.count, batch.flags, batch.gsoSize);
  }

  write(packet: Uint8Array): void {
    if (this.closed) {
      this.counterValues[this.txDropped]! += 1;
      return;
    }
    this.engine.write(packet);
  }

  onError(listener: (err: Error) => void): void {
    this.errorListeners.push(listener);
  }

  close(): Promise<void> {
    this.closed ??= this.engine.close();
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

  /**
   * Hands `err` to every listener. A listener that throws is a bug in the caller and is not hidden: after
   * every listener has seen the error, the first exception is rethrown — out of writeBatch()/write() to their
   * caller when the error arose there, to 'uncaughtException' when it arose in a loop callback.
   */
  private emitError(err: Error): void {
    if (this.errorListeners.length === 0) {
      process.emitWarning(err);
      return;
    }
    let thrown: { error: unknown } | undefined;
    for (const listener of this.errorListeners) {
      try {
        listener(err);
      } catch (error) {
        thrown ??= { error };
      }
    }
    if (thrown) throw thrown.error;
  }
}

export function checkInteger(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TunError(`option ${option}`, 'EINVAL', 22, `${value} is not an integer in ${min}…${max}`);
  }
  return value;
}

/** An interface address: `addr/len` or a bare address (a host prefix), by @ztun/packet's strict parser. */
function checkCidr(cidr: string): void {
  if (tryParseCidr(cidr) instanceof Error) {
    throw new TunError('option addresses', 'EINVAL', 22, `"${cidr}" is not an IPv4 or IPv6 address/prefix`);
  }
}

/** Runs a netlink step; a refusal becomes a TunError naming the step. */
export function netlinkStep<T>(operation: string, step: () => T): T {
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
  const offloadOption = options.offload ?? false;
  if (offloadOption !== true && offloadOption !== false && offloadOption !== 'checksum') {
    throw new TunError(
      'option offload',
      'EINVAL',
      22,
      `"${String(offloadOption)}" is not true, false or "checksum"`,
    );
  }
  const offload = offloadOption !== false;
  // With TSO a read may be a super-packet of up to 64 KiB at any MTU: slots sized for it.
  const slotSize = slotSizeFor(offloadOption === true ? GSO_MAX_PACKET : mtu);
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
  if (offload && io !== 'native') {
    throw new TunUnsupportedError('offload', 'checksum offload needs the native I/O engine (io: "native")');
  }
  const addresses = options.addresses ?? [];
  for (const cidr of addresses) checkCidr(cidr);
  // Loads and checks the addon (native) before any fd exists.
  const layout = io === 'native' ? tunIoAddon().counters : JS_COUNTER_LAYOUT;
  const counters = new Float64Array(layout.count);
  const hooks = new LateHooks();
  const devicePath = options.devicePath ?? '/dev/net/tun';

  // Native: the addon opens the device and owns the fd from here on. Threadpool: koffi opens a blocking fd.
  const native =
    io === 'native'
      ? new NativeEngine({
          devicePath,
          name: requested,
          offload,
          ...(options.writeThread ? { writeThread: true } : {}),
          ...(offloadOption === 'checksum' ? { tsoFlags: 0 } : {}),
          slotSize,
          batchSize,
          queueLimit,
          batchesPerWake,
          counters,
          hooks,
        })
      : undefined;
  const blocking = native ? undefined : openBlocking(devicePath, requested);
  const name = native ? native.name : blocking!.name;

  let netlink: RtNetlink | undefined;
  try {
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
    const engine =
      native ?? new ThreadpoolEngine(blocking!.fd, slotSize, counters, layout, hooks, nl, link.index);
    if (!native) netlink = undefined;
    return new LinuxTun(name, link.index, mtu, engine, counters, layout, hooks);
  } catch (err) {
    // A non-persistent TUN disappears with its last fd. The native close is synchronous.
    if (native) void native.close();
    else getLibc().close(blocking!.fd);
    throw err;
  } finally {
    netlink?.close();
  }
}

/** The threadpool baseline's own blocking fd: open + TUNSETIFF through koffi. */
function openBlocking(devicePath: string, requested: string): { fd: number; name: string } {
  const libc = getLibc();
  const fd = libc.open(devicePath, O_RDWR | O_CLOEXEC);
  if (fd < 0) throw TunError.fromErrno(`open ${devicePath}`, lastErrno());
  const ifreq = encodeIfreq(requested, IFF_TUN | IFF_NO_PI);
  if (libc.ioctl(fd, TUNSETIFF, 'uint8_t *', ifreq) < 0) {
    const errno = lastErrno();
    libc.close(fd);
    const detail = requested ? `name "${requested}": ${errnoName(errno)}` : undefined;
    throw TunError.fromErrno('TUNSETIFF', errno, detail);
  }
  return { fd, name: decodeIfreqName(ifreq) };
}

/** Opens a TUN device (see openTunSync; the work is synchronous, this is the promise-shaped entry point). */
export async function openTun(options: OpenTunOptions = {}): Promise<LinuxTun> {
  return openTunSync(options);
}
