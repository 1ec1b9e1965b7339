// The device shape from docs/architecture.md, declared here structurally so this package does not depend on
// @ztun/stack. Keep in step with stack/src/device.ts.

/** A batch of packets in one backing buffer. Packet i is data[offsets[i], offsets[i] + lengths[i]). */
export interface PacketBatch {
  readonly count: number;
  readonly data: Uint8Array;
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
  /** Packets lost on read: larger than a slot, shorter than the 4-byte header, or of an unknown family. */
  rxDropped: number;
  /** Packets dropped on write: queue full, not IPv4/IPv6, refused by the kernel, or still queued at close. */
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
