// The device shape from docs/architecture.md, declared here structurally so this package does not depend on
// @ztun/stack. Keep in step with stack/src/device.ts.

/** A batch of packets in one backing buffer. Packet i is data[offsets[i], offsets[i] + lengths[i]). */
export interface PacketBatch {
  readonly count: number;
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /**
   * Per-packet flags, present only on batches from an offload device (bit 0 = checksum partial: the TCP/UDP
   * checksum field right after the IP header holds the folded, uncomplemented pseudo-header sum). Absent:
   * every packet carries a complete checksum. See docs/architecture.md.
   */
  readonly flags?: Uint8Array;
}

export interface DeviceCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Packets lost on read (larger than a slot). Kernel-side drops (a full tun queue) show in `ip -s link`. */
  rxDropped: number;
  /**
   * Packets dropped on write: write queue full, refused by the kernel (EINVAL, EIO…), no kernel memory
   * (ENOBUFS), cut short, or queued at close.
   */
  txDropped: number;
}

export interface TunDevice {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  onBatch(receiver: (batch: PacketBatch) => void): void;
  pause(): void;
  resume(): void;
  writeBatch(batch: PacketBatch): void;
  write(packet: Uint8Array): void;
  onError(listener: (err: Error) => void): void;
  readonly counters: Readonly<DeviceCounters>;
  close(): Promise<void>;
}

export interface OpenTunOptions {
  /** Interface name (≤ 15 bytes); may contain one `%d`. Default: the kernel picks `tun%d`. */
  name?: string;
  /** MTU, 68…65535. Default 1500. */
  mtu?: number;
  /** Addresses in CIDR form (`10.9.0.1/24`, `fd00:9::1/64`); IPv4 and IPv6. */
  addresses?: string[];
  /** Bring the link up. Default true. */
  up?: boolean;
  /** Packets per batch handed to the receiver. Default 64 (fewer when the slab would exceed 8 MiB). */
  batchSize?: number;
  /** Packets held for a later write when the kernel refuses with EAGAIN. Default 1024. */
  queueLimit?: number;
  /** Batches delivered per wake-up before yielding to the event loop. Default 4. */
  batchesPerWake?: number;
  /**
   * Packet I/O engine. `native` (default): the addon polls the fd on the libuv loop and reads batches.
   * `threadpool`: the slow baseline, `fs.read` on libuv's threadpool, one packet per call (benchmarks only).
   */
  io?: 'native' | 'threadpool';
  /** NOT YET IMPLEMENTED: IFF_MULTI_QUEUE (one fd per queue). Passing true throws TunUnsupportedError. */
  multiQueue?: boolean;
  /**
   * Checksum offload (IFF_VNET_HDR + TUNSETOFFLOAD TUN_F_CSUM; native engine only): the kernel neither
   * computes checksums of packets it sends into the device nor verifies those written back partial. Batches
   * then carry `flags` (bit 0 = checksum partial); a consumer that rewrites such packets must update the
   * partial sum (@ztun/packet `rewriteTcpEndpointsAt(…, partial = true)`) and pass `flags` back with
   * writeBatch. No GSO: packets stay at most one MTU. Default false.
   */
  offload?: boolean;
  /** Path of the clone device. Default `/dev/net/tun` (tests point it elsewhere). */
  devicePath?: string;
}
