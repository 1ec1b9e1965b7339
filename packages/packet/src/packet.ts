import { clampLength, type Decoded, PacketError, type PacketLayer, ParseCode } from './errors.js';
import { Icmpv4View, Icmpv6View } from './icmp.js';
import { IPv4View } from './ipv4.js';
import { IPv6View } from './ipv6.js';
import { TcpView } from './tcp.js';
import { UdpView } from './udp.js';

/** IP protocol numbers. */
export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPv6: 58,
} as const;

/**
 * One reusable parser for an IP packet of either version and its transport header — the hot-path entry
 * point: allocate one per worker, call {@link PacketView.reset} per packet (no allocation), branch on
 * `version` and `transport`.
 *
 * ```ts
 * const pv = new PacketView();
 * if (pv.reset(batch.data, batch.offsets[i], batch.lengths[i]) === 0 && pv.transport === IpProtocol.TCP) {
 *   pv.tcp.destinationPort; pv.ipv4.destination; ...
 * }
 * ```
 * The transport header is parsed only for unfragmented packets (or the IPv6 atomic fragment) of protocols
 * TCP, UDP, ICMP and ICMPv6; otherwise `transport` is 0 and `protocol`/`transportOffset` still say what
 * follows the IP header(s).
 */
export class PacketView {
  readonly ipv4 = new IPv4View();
  readonly ipv6 = new IPv6View();
  readonly tcp = new TcpView();
  readonly udp = new UdpView();
  readonly icmpv4 = new Icmpv4View();
  readonly icmpv6 = new Icmpv6View();
  /** 4 or 6 after a successful reset (0 otherwise). */
  version = 0;
  /** Upper-layer protocol number after the IP header / IPv6 extension headers. */
  protocol = -1;
  /** Which transport view is valid: 6 (tcp), 17 (udp), 1 (icmpv4), 58 (icmpv6), or 0 for none. */
  transport = 0;
  /** Offset in the buffer of the upper-layer header, and the bytes from there to the end of the packet. */
  transportOffset = 0;
  transportLength = 0;
  /** The layer whose header failed in the last reset, or null. */
  errorLayer: PacketLayer | null = null;

  /** Parses `buf[offset, offset+length)`. Returns 0 or a {@link ParseCode} (`errorLayer` says which header). */
  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    this.version = 0;
    this.protocol = -1;
    this.transport = 0;
    this.transportOffset = 0;
    this.transportLength = 0;
    this.errorLayer = null;
    const avail = clampLength(buf, offset, length);
    if (avail < 1) {
      this.errorLayer = 'ip';
      return ParseCode.Truncated;
    }
    const v = buf[offset]! >> 4;
    let fragmented: boolean;
    if (v === 4) {
      const code = this.ipv4.reset(buf, offset, avail);
      if (code !== 0) {
        this.errorLayer = 'ipv4';
        return code;
      }
      this.version = 4;
      this.protocol = this.ipv4.protocol;
      this.transportOffset = this.ipv4.payloadOffset;
      this.transportLength = this.ipv4.payloadLength;
      fragmented = this.ipv4.isFragment;
    } else if (v === 6) {
      const code = this.ipv6.reset(buf, offset, avail);
      if (code !== 0) {
        this.errorLayer = 'ipv6';
        return code;
      }
      this.version = 6;
      this.protocol = this.ipv6.upperProtocol;
      this.transportOffset = this.ipv6.upperOffset;
      this.transportLength = this.ipv6.upperLength;
      fragmented = this.ipv6.fragmentOffset !== 0 || this.ipv6.moreFragments;
    } else {
      this.errorLayer = 'ip';
      return ParseCode.BadVersion;
    }
    if (fragmented) return 0;
    const p = this.protocol;
    let code = 0;
    if (p === 6) {
      code = this.tcp.reset(buf, this.transportOffset, this.transportLength);
      if (code !== 0) this.errorLayer = 'tcp';
    } else if (p === 17) {
      code = this.udp.reset(buf, this.transportOffset, this.transportLength);
      if (code !== 0) this.errorLayer = 'udp';
    } else if (p === 1 && v === 4) {
      code = this.icmpv4.reset(buf, this.transportOffset, this.transportLength);
      if (code !== 0) this.errorLayer = 'icmpv4';
    } else if (p === 58 && v === 6) {
      code = this.icmpv6.reset(buf, this.transportOffset, this.transportLength);
      if (code !== 0) this.errorLayer = 'icmpv6';
    } else {
      return 0;
    }
    if (code === 0) this.transport = p;
    return code;
  }

  /** The IP view for the parsed version. */
  get ip(): IPv4View | IPv6View {
    return this.version === 6 ? this.ipv6 : this.ipv4;
  }

  /** Pseudo-header sum for the transport checksum (`transportLength` bytes of `protocol`). */
  pseudoHeaderSum(): number {
    if (this.version === 4) return this.ipv4.pseudoHeaderSum(this.transportLength, this.protocol);
    if (this.version === 6) return this.ipv6.pseudoHeaderSum(this.transportLength, this.protocol);
    return 0;
  }

  /** Recomputes the transport checksum from scratch (O(payload); prefer the nat helpers for rewrites). */
  updateTransportChecksum(): void {
    switch (this.transport) {
      case 6:
        this.tcp.updateChecksum(this.pseudoHeaderSum());
        break;
      case 17:
        this.udp.updateChecksum(this.udpPseudoSum());
        break;
      case 1:
        this.icmpv4.updateChecksum(0);
        break;
      case 58:
        this.icmpv6.updateChecksum(this.pseudoHeaderSum());
        break;
    }
  }

  /** Recomputes the IPv4 header checksum (if IPv4) and the transport checksum. */
  updateChecksums(): void {
    if (this.version === 4) this.ipv4.updateHeaderChecksum();
    this.updateTransportChecksum();
  }

  /**
   * True when the transport checksum is correct (IPv4 UDP with checksum 0 counts as correct). False when
   * no transport header was parsed.
   */
  verifyTransportChecksum(): boolean {
    switch (this.transport) {
      case 6:
        return this.tcp.verifyChecksum(this.pseudoHeaderSum());
      case 17:
        return this.udp.verifyChecksum(this.udpPseudoSum(), this.version === 4);
      case 1:
        return this.icmpv4.verifyChecksum(0);
      case 58:
        return this.icmpv6.verifyChecksum(this.pseudoHeaderSum());
      default:
        return false;
    }
  }

  /** UDP's pseudo header uses the UDP length field, which may be shorter than the IP payload. */
  private udpPseudoSum(): number {
    const len = this.udp.length;
    if (this.version === 4) return this.ipv4.pseudoHeaderSum(len, 17);
    return this.ipv6.pseudoHeaderSum(len, 17);
  }
}

/** Result of {@link decodePacket}: a fresh {@link PacketView} that parsed, or a typed error. */
export function decodePacket(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<PacketView> {
  const view = new PacketView();
  const code = view.reset(buf, offset, length);
  if (code !== 0) {
    const layer = view.errorLayer ?? 'ip';
    const at = layer === 'ip' || layer === 'ipv4' || layer === 'ipv6' ? offset : view.transportOffset;
    return { ok: false, error: PacketError.fromCode(code, layer, at) };
  }
  return { ok: true, view };
}
