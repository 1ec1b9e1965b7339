// The device contract: the one declaration that @ztun/stack consumes and every tun-* package implements
// (docs/architecture.md, "The device shape"). Types only — this module emits no code, so @ztun/packet stays
// dependency-free and browser-safe. Each device's README says what exactly it counts in rxDropped/txDropped.

/** A batch of packets in one backing buffer. Packet i is data[offsets[i], offsets[i] + lengths[i]). */
export interface PacketBatch {
  readonly count: number;
  /** Mind `byteOffset` when making DataViews over it. */
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /**
   * Optional per-packet flags (only devices opened with checksum offload set it). Bit 0 = checksum partial:
   * the TCP/UDP checksum field (the transport header directly follows the IP header) holds the folded, NOT
   * complemented pseudo-header sum, as Linux CHECKSUM_PARTIAL / virtio NEEDS_CSUM. Absent or 0: complete.
   * A receiver that rewrites a partial packet updates that sum (`rewriteTcpEndpointsAt(…, partial = true)`)
   * and passes `flags` back with `writeBatch`; devices without offload ignore it on write.
   * Bit 1 = ECN on a TCP super-packet (`gsoSize` > 0): its first segment may carry CWR (virtio
   * VIRTIO_NET_HDR_GSO_ECN); pass it back unchanged.
   */
  readonly flags?: Uint8Array;
  /**
   * Optional per-packet GSO segment size (only devices opened with segmentation offload, TSO, set it). n > 0:
   * packet i is a TCP super-packet — one IP + TCP header over a payload the OS cuts into n-byte segments
   * (virtio_net_hdr gso_size; IPv4 total length / IPv6 payload length cover the whole super-packet; always
   * checksum partial). Rewrite its headers as for one packet and pass `gsoSize` back with `writeBatch`, so the
   * device writes it back as one super-packet. 0 or absent: an ordinary packet of at most one MTU.
   */
  readonly gsoSize?: Uint16Array;
}

export interface DeviceCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Packets lost on read (e.g. larger than a slot, malformed framing). Kernel-side drops are not here. */
  rxDropped: number;
  /** Packets dropped on write (queue full, refused by the OS, still queued at close…), never silent. */
  txDropped: number;
  /** Echo requests the device answered itself (answerEchoRequests); absent on devices that cannot. */
  echoReplies?: number;
}

/** The families whose ICMP echo requests a device answers itself (TunDevice.answerEchoRequests). */
export interface EchoFamilies {
  ipv4: boolean;
  ipv6: boolean;
}

export interface TunDevice {
  readonly name: string;
  /** OS interface index (Windows: IfIndex). */
  readonly index: number;
  readonly mtu: number;
  /** Set the receiver: called on the event loop with one batch per wake-up. The batch (and its memory)
   *  is valid only during the call; the receiver may rewrite packets in place and pass the same batch
   *  (or a sub-selection built on the same data) to writeBatch before returning. */
  onBatch(receiver: (batch: PacketBatch) => void): void;
  /** Backpressure: stop / restart polling for reads. */
  pause(): void;
  resume(): void;
  /** Write packets. Whatever the OS does not accept now is copied into a bounded queue and written when
   *  the device is writable again; beyond the queue bound packets are dropped and counted in txDropped. */
  writeBatch(batch: PacketBatch): void;
  /** Write one packet (complete checksums), queued like writeBatch. */
  write(packet: Uint8Array): void;
  onError(listener: (err: Error) => void): void;
  /** Optional: answer ICMP echo requests (IPv4 type 8, ICMPv6 type 128) of these families in the device's
   *  read path, before the receiver — exactly the reply @ztun/packet's echoReplyInPlace makes, counted in
   *  counters.echoReplies — for a receiver that would answer every one of them anyway; anything the device is
   *  not sure about (bad checksums, fragments, IPv6 extension headers) still reaches the receiver. Both
   *  false turns it off. Returns false when the device cannot (nothing changed). */
  answerEchoRequests?(families: EchoFamilies): boolean;
  readonly counters: Readonly<DeviceCounters>;
  /** Removes the device and releases every fd/handle. Idempotent. */
  close(): Promise<void>;
}
