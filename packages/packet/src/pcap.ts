/**
 * Capture writers that return bytes (no file system access, so they run in browsers too):
 * classic pcap and pcapng, both with LINKTYPE_RAW (101): each record is one raw IPv4 or IPv6 packet.
 * Output is little-endian; Wireshark, tshark and tcpdump read both formats.
 */

/** LINKTYPE_RAW: the packet starts with an IPv4 or IPv6 header. */
export const LINKTYPE_RAW = 101;

/** Where a streaming writer sends each encoded chunk (file header, then one chunk per packet). */
export interface CaptureSink {
  write(chunk: Uint8Array): void;
}

export interface CaptureOptions {
  /** Maximum bytes stored per packet (longer packets are truncated, original length kept). Default 262144. */
  snaplen?: number;
  /** Link type. Default {@link LINKTYPE_RAW}. */
  linktype?: number;
  /**
   * Stream instead of buffering: every chunk goes to `sink` as soon as it is encoded (e.g. a file written
   * with `fs.writeSync`), so a long capture never sits in memory. `toBytes()` is then unavailable.
   */
  sink?: CaptureSink;
}

/** A timestamp in microseconds since the Unix epoch (a number; safe until year 2255). */
export type MicrosSinceEpoch = number;

function nowMicros(): number {
  return Math.round(Date.now() * 1000);
}

class ByteSink {
  private chunks: Uint8Array[] = [];
  private size = 0;
  constructor(private readonly stream?: CaptureSink) {}
  push(chunk: Uint8Array): void {
    if (this.stream) {
      this.stream.write(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }
  get byteLength(): number {
    return this.size;
  }
  concat(): Uint8Array {
    if (this.stream) throw new Error('this capture writer streams to its sink; it keeps no bytes');
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * Classic pcap (microsecond timestamps). Append packets, then take `toBytes()` and write them wherever
 * (e.g. `fs.writeFileSync(path, writer.toBytes())` in Node).
 */
export class PcapWriter {
  readonly snaplen: number;
  readonly linktype: number;
  private readonly sink: ByteSink;
  private count = 0;

  constructor(options: CaptureOptions = {}) {
    this.sink = new ByteSink(options.sink);
    this.snaplen = options.snaplen ?? 262144;
    this.linktype = options.linktype ?? LINKTYPE_RAW;
    const h = new Uint8Array(24);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); // thiszone
    dv.setUint32(12, 0, true); // sigfigs
    dv.setUint32(16, this.snaplen, true);
    dv.setUint32(20, this.linktype, true);
    this.sink.push(h);
  }

  /** Appends `packet[offset, offset+length)` (copied) with a timestamp in µs since the epoch (default now). */
  addPacket(
    packet: Uint8Array,
    offset = 0,
    length: number = packet.length - offset,
    timestampMicros: MicrosSinceEpoch = nowMicros(),
  ): this {
    const captured = Math.min(length, this.snaplen);
    const rec = new Uint8Array(16 + captured);
    const dv = new DataView(rec.buffer);
    const sec = Math.floor(timestampMicros / 1e6);
    dv.setUint32(0, sec >>> 0, true);
    dv.setUint32(4, Math.round(timestampMicros - sec * 1e6) >>> 0, true);
    dv.setUint32(8, captured, true);
    dv.setUint32(12, length, true);
    rec.set(packet.subarray(offset, offset + captured), 16);
    this.sink.push(rec);
    this.count++;
    return this;
  }

  /** Number of packets added. */
  get packetCount(): number {
    return this.count;
  }

  /** The whole capture file so far. */
  toBytes(): Uint8Array {
    return this.sink.concat();
  }
}

/**
 * pcapng with one section and one interface (LINKTYPE_RAW by default, microsecond resolution); packets
 * are Enhanced Packet Blocks.
 */
export class PcapngWriter {
  readonly snaplen: number;
  readonly linktype: number;
  private readonly sink: ByteSink;
  private count = 0;

  constructor(options: CaptureOptions & { interfaceName?: string } = {}) {
    this.sink = new ByteSink(options.sink);
    this.snaplen = options.snaplen ?? 262144;
    this.linktype = options.linktype ?? LINKTYPE_RAW;
    // Section Header Block.
    const shb = new Uint8Array(28);
    let dv = new DataView(shb.buffer);
    dv.setUint32(0, 0x0a0d0d0a, true);
    dv.setUint32(4, 28, true);
    dv.setUint32(8, 0x1a2b3c4d, true);
    dv.setUint16(12, 1, true);
    dv.setUint16(14, 0, true);
    dv.setInt32(16, -1, true); // section length unknown (64-bit -1)
    dv.setInt32(20, -1, true);
    dv.setUint32(24, 28, true);
    this.sink.push(shb);
    // Interface Description Block, optionally with if_name (option 2).
    const name = options.interfaceName ? new TextEncoder().encode(options.interfaceName) : null;
    const optLen = name ? 4 + ((name.length + 3) & ~3) + 4 : 0;
    const idbLen = 20 + optLen;
    const idb = new Uint8Array(idbLen);
    dv = new DataView(idb.buffer);
    dv.setUint32(0, 1, true);
    dv.setUint32(4, idbLen, true);
    dv.setUint16(8, this.linktype, true);
    dv.setUint16(10, 0, true);
    dv.setUint32(12, this.snaplen, true);
    if (name) {
      dv.setUint16(16, 2, true);
      dv.setUint16(18, name.length, true);
      idb.set(name, 20);
      // opt_endofopt is the zeroed 4 bytes before the trailing length.
    }
    dv.setUint32(idbLen - 4, idbLen, true);
    this.sink.push(idb);
  }

  /** Appends `packet[offset, offset+length)` with a timestamp in µs since the epoch (default now). */
  addPacket(
    packet: Uint8Array,
    offset = 0,
    length: number = packet.length - offset,
    timestampMicros: MicrosSinceEpoch = nowMicros(),
  ): this {
    const captured = Math.min(length, this.snaplen);
    const padded = (captured + 3) & ~3;
    const blockLen = 32 + padded;
    const b = new Uint8Array(blockLen);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 6, true);
    dv.setUint32(4, blockLen, true);
    dv.setUint32(8, 0, true); // interface id
    const high = Math.floor(timestampMicros / 0x100000000);
    dv.setUint32(12, high >>> 0, true);
    dv.setUint32(16, (timestampMicros - high * 0x100000000) >>> 0, true);
    dv.setUint32(20, captured, true);
    dv.setUint32(24, length, true);
    b.set(packet.subarray(offset, offset + captured), 28);
    dv.setUint32(blockLen - 4, blockLen, true);
    this.sink.push(b);
    this.count++;
    return this;
  }

  get packetCount(): number {
    return this.count;
  }

  toBytes(): Uint8Array {
    return this.sink.concat();
  }
}
