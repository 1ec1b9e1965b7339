import type { TcpNatTable } from './nat.js';
import type { ResolvedFamily } from './options.js';

/** One address family of the stack: its addresses, its TCP NAT table and its listener's port. */
export interface Family extends ResolvedFamily {
  readonly table: TcpNatTable;
  /** The kernel listener's port (0 until start() has bound it). */
  listenPort: number;
}

/**
 * Where the packet being handled is: filled in once per packet by the packet path and passed down instead
 * of eight positional numbers. One instance per stack, reused for every packet (no per-packet allocation);
 * valid only while that packet is handled — never keep it.
 */
export class PacketContext {
  /** The packet's family (the stack has it configured). */
  family!: Family;
  /** The batch buffer holding the packet, and the packet's offset in it. */
  data: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Transport header offset in `data`, and the transport length (header + payload). */
  l4 = 0;
  l4Length = 0;
  /** Offsets in `data` of the source and destination addresses (family.alen bytes each). */
  srcOff = 0;
  dstOff = 0;
  /** Transport ports (TCP and UDP). */
  sport = 0;
  dport = 0;
  /** The device flagged the transport checksum as partial (offload: it holds only the pseudo-header sum). */
  partial = false;
}

/** The batch clock (ms, performance.now at the start of the current batch or sweep), shared by the tables. */
export interface Clock {
  now: number;
}
