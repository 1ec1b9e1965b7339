// Options of openTun/openTunSync. The device contract (TunDevice, PacketBatch, DeviceCounters) is declared
// once, in @ztun/packet (docs/architecture.md).

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
