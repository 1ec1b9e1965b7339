import type { DeviceCounters } from '@ztun/packet';
import { loadAddon } from './addon.linux.js';
import { TunError } from './errors.js';

/**
 * Options of the native `new TunIo(options)`. native/tun_io_options.h reads them by these names, so there is
 * no argument order to keep in step; a missing or ill-typed option throws a TypeError naming it.
 */
export interface TunIoOptions {
  /** Open this TUN device: `open(path)` + `TUNSETIFF` (+ offload ioctls) in the addon, which then owns the fd. */
  device?: { path: string; name: string };
  /** Or adopt this fd (tests: any datagram fd): the addon makes it non-blocking and closes it at close(). */
  fd?: number;
  slab: ArrayBuffer;
  lengths: Uint32Array;
  counters: Float64Array;
  slotSize: number;
  batchSize: number;
  queueLimit: number;
  batchesPerWake: number;
  onBatch: (count: number) => void;
  onError: (operation: string, errno: number) => void;
  /** Writes on a thread of the addon's own (native/tun_writer.h). */
  writeThread?: boolean;
  /** IFF_VNET_HDR: a virtio_net_hdr before every packet both ways; reads record per-packet flags in `flags`. */
  offload?: boolean;
  /** One byte per slot; needed with `offload`. */
  flags?: Uint8Array;
  /** One GSO segment size per slot (0: a plain packet); needed with `offload`. */
  gsoSizes?: Uint16Array;
  /**
   * The TSO flags asked for with TUN_F_CSUM when the addon opens the device (default TUN_F_TSO4 | TUN_F_TSO6
   * | TUN_F_TSO_ECN; 0: checksum offload only). When the kernel refuses them, checksum offload alone.
   */
  tsoFlags?: number;
}

/** The native TunIo (native/tun_io.cc): the single owner of the device's fd, from open to close. */
export interface NativeTunIo {
  /** The interface name the kernel gave (empty for an adopted fd). */
  readonly name: string;
  /** The fd, for diagnostics; -1 once closed. */
  readonly fd: number;
  /** The TUN_F_* flags TUNSETOFFLOAD took (0 without offload or for an adopted fd). */
  readonly offloadFlags: number;
  /** The errno with which the kernel refused the TSO flags (0: granted, or not asked for). */
  readonly tsoRefused: number;
  /** The kernel takes UDP super-packets written with VIRTIO_NET_HDR_GSO_UDP_L4 (probed at open, Linux ≥ 6.2). */
  readonly usoWritable: boolean;
  resume(): void;
  pause(): void;
  writeBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    flags?: Uint8Array,
    gsoSizes?: Uint16Array,
  ): number;
  write(packet: Uint8Array): number;
  queueLength(): number;
  /** ICMP echo requests of these families (1: IPv4, 2: IPv6, 3: both; 0: none) answered in the read path. */
  answerEchoRequests(families: number): void;
  /** Stops polling and closes the fd at once; returns the number of queued packets dropped. Idempotent. */
  close(): number;
}

export type NativeTunIoClass = new (options: TunIoOptions) => NativeTunIo;

/** A Linux TUN's counters: the device contract's, plus TCP super-packets (TSO) among the packets. */
export interface LinuxTunCounters extends DeviceCounters {
  /** TCP super-packets read (part of rxPackets). */
  gsoPacketsRead: number;
  /** TCP super-packets written (part of txPackets). */
  gsoPacketsWritten: number;
  /**
   * ICMP echo requests answered by the addon in its read path (`LinuxTun.answerEchoRequests`), never seen by
   * the receiver: each request is among rxPackets, its reply among txPackets.
   */
  echoReplies: number;
}

/** Where each counter lives in the Float64Array the engine updates. */
export interface CounterLayout {
  readonly count: number;
  readonly index: Readonly<Record<keyof LinuxTunCounters, number>>;
}

// Every counter, once: the compiler rejects a missing or extra key.
const COUNTER_FIELDS: Record<keyof LinuxTunCounters, true> = {
  rxPackets: true,
  rxBytes: true,
  txPackets: true,
  txBytes: true,
  rxDropped: true,
  txDropped: true,
  gsoPacketsRead: true,
  gsoPacketsWritten: true,
  echoReplies: true,
};

/** The layout for engines without the addon (the threadpool baseline). */
export const JS_COUNTER_LAYOUT: CounterLayout = layoutFrom(Object.keys(COUNTER_FIELDS));

function layoutFrom(names: readonly string[]): CounterLayout {
  const index = {} as Record<keyof LinuxTunCounters, number>;
  names.forEach((name, i) => {
    index[name as keyof LinuxTunCounters] = i;
  });
  return { count: names.length, index };
}

/**
 * The addon's counter layout, checked against this package's DeviceCounters: the addon exports the names in
 * its own order (`counterNames`) and their number (`counterCount`). A mismatch means a stale build.
 */
export function checkCounterLayout(names: unknown, count: unknown): CounterLayout {
  const expected = Object.keys(COUNTER_FIELDS).sort();
  const got = Array.isArray(names) ? names.map(String) : [];
  if (
    typeof count !== 'number' ||
    count !== got.length ||
    got.length !== expected.length ||
    [...got].sort().some((name, i) => name !== expected[i])
  ) {
    throw new TunError(
      'load native addon',
      'EINVAL',
      22,
      `its counters (${got.join(', ') || 'none'}; counterCount ${String(count)}) are not this package's ` +
        `(${expected.join(', ')}): the build is stale, rebuild it (node-gyp rebuild in @ztun/tun-linux)`,
    );
  }
  return layoutFrom(got);
}

let checked: { TunIo: NativeTunIoClass; counters: CounterLayout } | undefined;

/** The addon's TunIo class and counter layout, checked once per process. */
export function tunIoAddon(): { TunIo: NativeTunIoClass; counters: CounterLayout } {
  if (!checked) {
    const addon = loadAddon();
    checked = { TunIo: addon.TunIo, counters: checkCounterLayout(addon.counterNames, addon.counterCount) };
  }
  return checked;
}
