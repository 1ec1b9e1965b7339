/**
 * Result codes returned by every view's `reset()` (0 = ok), and the typed error object the cold-path
 * `decode*()` functions return instead. Nothing in this package throws on malformed packets.
 */
export const ParseCode = {
  Ok: 0,
  /** Fewer bytes than the fixed header (or than a length field inside the header) requires. */
  Truncated: 1,
  /** The IP version nibble is not the one expected. */
  BadVersion: 2,
  /** IPv4 IHL < 5, TCP data offset < 5, or a header length that exceeds the packet's own length. */
  BadHeaderLength: 3,
  /** IPv4 total length / IPv6 payload length / UDP length says more bytes than the buffer holds. */
  TotalLengthBeyondBuffer: 4,
  /** An IPv6 extension header runs past the payload, or hop-by-hop is not first. */
  BadExtensionChain: 5,
  /** IPv4 total length smaller than its header, or UDP length smaller than 8. */
  BadTotalLength: 6,
} as const;

export type ParseCodeValue = (typeof ParseCode)[keyof typeof ParseCode];

export type PacketErrorKind =
  | 'truncated'
  | 'bad-version'
  | 'bad-header-length'
  | 'total-length-beyond-buffer'
  | 'bad-extension-chain'
  | 'bad-total-length';

export type PacketLayer = 'ip' | 'ipv4' | 'ipv6' | 'tcp' | 'udp' | 'icmpv4' | 'icmpv6';

const KIND_BY_CODE: readonly PacketErrorKind[] = [
  'truncated', // 0 is never an error; index 0 unused below
  'truncated',
  'bad-version',
  'bad-header-length',
  'total-length-beyond-buffer',
  'bad-extension-chain',
  'bad-total-length',
];

/** Maps a non-zero result code to its error kind. */
export function parseCodeKind(code: number): PacketErrorKind {
  return KIND_BY_CODE[code] ?? 'truncated';
}

/** A malformed packet, as data (returned, never thrown by this package). */
export class PacketError extends Error {
  override readonly name = 'PacketError';
  constructor(
    readonly kind: PacketErrorKind,
    readonly layer: PacketLayer,
    /** Byte offset (in the caller's buffer) of the header that failed. */
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }

  /** Builds an error from a view's non-zero result code. */
  static fromCode(code: number, layer: PacketLayer, offset: number, detail?: string): PacketError {
    const kind = parseCodeKind(code);
    return new PacketError(
      kind,
      layer,
      offset,
      `${layer} header at offset ${offset}: ${kind}${detail ? ` (${detail})` : ''}`,
    );
  }
}

/** Result of a cold-path decode: the view, or a typed error saying why not. */
export type Decoded<T> =
  | { readonly ok: true; readonly view: T }
  | { readonly ok: false; readonly error: PacketError };

/**
 * The usable length of `buf[offset, offset + length)`: clamped to the buffer, and -1 when `offset` or
 * `length` is not a non-negative integer inside the buffer (views then report Truncated).
 */
export function clampLength(buf: Uint8Array, offset: number, length: number): number {
  if ((offset | 0) !== offset || offset < 0 || offset > buf.length) return -1;
  if ((length | 0) !== length || length < 0) return -1;
  const avail = buf.length - offset;
  return Math.min(length, avail);
}
