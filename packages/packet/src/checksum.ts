/** RFC 1071 one's-complement checksum of `length` bytes of `buf` starting at `offset`. */
export function internetChecksum(buf: Uint8Array, offset = 0, length = buf.length - offset): number {
  let sum = 0;
  const end = offset + length;
  let i = offset;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
