// The device shape the stack needs. Every tun-* package implements it structurally (no dependency on the
// stack). Declared exactly as in docs/architecture.md — change both together.

/** A batch of packets in one backing buffer. Packet i is data[offsets[i], offsets[i] + lengths[i]). */
export interface PacketBatch {
  readonly count: number;
  readonly data: Uint8Array; // mind byteOffset when making DataViews
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /**
   * Optional per-packet flags (only devices opened with checksum offload set it). Bit 0 = checksum partial:
   * the TCP/UDP checksum field (the transport header directly follows the IP header) holds the folded, NOT
   * complemented pseudo-header sum, as Linux CHECKSUM_PARTIAL / virtio NEEDS_CSUM. Absent or 0: complete.
   */
  readonly flags?: Uint8Array;
}

export interface DeviceCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  rxDropped: number; // packets lost on read (e.g. oversize)
  txDropped: number; // packets dropped on write (queue full, EINVAL…), never silent
}

export interface TunDevice {
  readonly name: string;
  readonly index: number; // OS interface index (Windows: IfIndex)
  readonly mtu: number;
  /** Set the receiver: called on the event loop with one batch per wake-up. The batch (and its memory)
   *  is valid only during the call; the receiver may rewrite packets in place and pass the same batch
   *  (or a sub-selection built on the same data) to writeBatch before returning. */
  onBatch(receiver: (batch: PacketBatch) => void): void;
  /** Backpressure: stop / restart polling for reads. */
  pause(): void;
  resume(): void;
  /** Write packets. Whatever the kernel does not accept now is copied into a bounded queue and written
   *  when the device is writable again; beyond the queue bound packets are dropped and counted in txDropped. */
  writeBatch(batch: PacketBatch): void;
  write(packet: Uint8Array): void;
  onError(listener: (err: Error) => void): void;
  readonly counters: Readonly<DeviceCounters>;
  /** Removes the device and releases every fd/handle. Idempotent. */
  close(): Promise<void>;
}
