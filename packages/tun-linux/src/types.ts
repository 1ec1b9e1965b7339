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
   * Offload (IFF_VNET_HDR; native engine only). `true`: TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
   * TUN_F_TSO_ECN, or TUN_F_CSUM alone when the kernel refuses TSO (`LinuxTun.offload` says which and why);
   * `'checksum'`: TUN_F_CSUM only.
   * Checksum offload: the kernel neither computes checksums of packets it sends into the device nor verifies
   * those written back partial. Batches then carry `flags` (bit 0 = checksum partial); a consumer that
   * rewrites such packets must update the partial sum (@ztun/packet `rewriteTcpEndpointsAt(…, partial =
   * true)`) and pass `flags` back with writeBatch.
   * TSO: the kernel hands over TCP super-packets of up to 64 KiB at any MTU and takes them back whole; batches
   * carry `gsoSize` (n > 0: a super-packet cut into n-byte segments by whoever must) that the consumer passes
   * back with writeBatch, with `flags`. Slots are then 64 KiB each (a 4 MiB slab at 64 per batch).
   * No USO/UFO: UDP goes through sockets, datagrams stay one MTU. Default false.
   */
  offload?: boolean | 'checksum';
  /**
   * Write packets on a thread of the addon's own (native engine only): writeBatch/write copy the packets and
   * hand them over; the thread writes them in order. A write into a TUN runs the kernel's receive path
   * inside the call (for a local listener: its TCP), so that work leaves the JS thread. Packets waiting
   * beyond max(queueLimit, 4096) are dropped and counted in txDropped. Default false.
   */
  writeThread?: boolean;
  /** Path of the clone device. Default `/dev/net/tun` (tests point it elsewhere). */
  devicePath?: string;
}
