/**
 * The device shape declared by @ztun/stack (docs/architecture.md), repeated here so this package fits it
 * structurally without depending on @ztun/stack.
 */

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
  /** Packets lost on read. */
  rxDropped: number;
  /** Packets dropped on write (send ring full, adapter gone, bad size), never silent. */
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

/** Where the device and the Wintun driver log (console fits). */
export interface TunLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
