/**
 * Internet checksum (RFC 1071) with chainable partial sums, pseudo-header sums and RFC 1624 incremental
 * updates.
 *
 * Vocabulary:
 * - a *sum* is the one's-complement sum of 16-bit big-endian words, NOT complemented. Sums are plain
 *   non-negative integers and may exceed 0xffff (they are "unfolded"): add them with `+` or pass one as the
 *   `initial` argument of another call, then call {@link checksumFinish} once.
 * - a *checksum* is the folded, complemented 16-bit value that goes on the wire.
 *
 * Chaining rule: a partial sum treats the byte at its `offset` as the HIGH byte of a word, so every segment
 * except the last one must have an even length.
 */

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Below this many bytes the plain byte loop wins (no setup). */
const DATAVIEW_MIN = 64;
/** From this many bytes the aligned Uint32Array loop wins over DataView reads. */
const WORD_LOOP_MIN = 2048;
/** Words summed before folding so the float accumulator stays exact (2^53 / 2^32 = 2^21). */
const WORDS_PER_FOLD = 1 << 20;

// One cached Uint32Array and one DataView over the backing ArrayBuffer of the last Uint8Array seen, keyed
// by that Uint8Array itself (reading `.buffer` costs more than the sum of a small packet). Tunnels reuse one
// batch buffer, so this almost always hits and the fast loops cost no allocation. It keeps one buffer
// reachable.
let cachedWordsKey: Uint8Array | null = null;
let cachedWords: Uint32Array = new Uint32Array(0);
let cachedViewKey: Uint8Array | null = null;
let cachedView: DataView = new DataView(new ArrayBuffer(0));

function wordsOver(buf: Uint8Array): Uint32Array {
  const buffer = buf.buffer;
  if (
    buf !== cachedWordsKey ||
    cachedWords.buffer !== buffer ||
    cachedWords.length !== buffer.byteLength >>> 2
  ) {
    cachedWordsKey = buf;
    cachedWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return cachedWords;
}

function dataViewOver(buf: Uint8Array): DataView {
  // A Uint8Array's backing buffer never changes; a DataView without a length tracks resizable buffers.
  if (buf !== cachedViewKey) {
    cachedViewKey = buf;
    cachedView = new DataView(buf.buffer);
  }
  return cachedView;
}

/** Sum of big-endian words through a DataView (any alignment); at most 2047 bytes, so no overflow. */
function sumDataView(dv: DataView, start: number, end: number): number {
  let s = 0;
  let i = start;
  for (; i + 15 < end; i += 16)
    s += dv.getUint32(i) + dv.getUint32(i + 4) + dv.getUint32(i + 8) + dv.getUint32(i + 12);
  for (; i + 3 < end; i += 4) s += dv.getUint32(i);
  for (; i + 1 < end; i += 2) s += dv.getUint16(i);
  if (i < end) s += dv.getUint8(i) << 8;
  return s;
}

/** Sum of big-endian 16-bit words, byte at `start` is a high byte. Returns an unfolded sum. */
function sumBytes(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 7 < end; i += 8) {
    sum +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds any non-negative integer sum into [0, 0xffff] preserving its one's-complement value. */
function foldAny(sum: number): number {
  if (sum <= 0xffff) return sum;
  const r = sum % 0xffff;
  return r === 0 ? 0xffff : r;
}

/** Sums native-endian 32-bit words [wordStart, wordEnd) of `words`, folding as needed. */
function sumWords(words: Uint32Array, wordStart: number, wordEnd: number): number {
  let total = 0;
  let i = wordStart;
  while (i < wordEnd) {
    const chunkEnd = Math.min(wordEnd, i + WORDS_PER_FOLD);
    let s = 0;
    for (; i + 3 < chunkEnd; i += 4) s += words[i]! + words[i + 1]! + words[i + 2]! + words[i + 3]!;
    for (; i < chunkEnd; i++) s += words[i]!;
    total = foldAny(total + foldAny(s));
  }
  return total;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/**
 * One's-complement sum (not complemented, not necessarily folded) of `length` bytes of `buf` from
 * `offset`, plus `initial`. Out-of-range bytes are not read: the range is clamped to the buffer.
 */
export function checksumPartial(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
  initial = 0,
): number {
  if (offset < 0) offset = 0;
  let end = offset + length;
  if (end > buf.length) end = buf.length;
  const n = end - offset;
  if (n < DATAVIEW_MIN) return initial + sumBytes(buf, offset, end);
  if (n < WORD_LOOP_MIN) {
    const base = buf.byteOffset;
    return initial + sumDataView(dataViewOver(buf), base + offset, base + end);
  }
  // Align the word loop to the backing ArrayBuffer; head/tail go through the byte loop.
  const absStart = buf.byteOffset + offset;
  const absEnd = buf.byteOffset + end;
  const alignedStart = (absStart + 3) & ~3;
  const alignedEnd = absEnd & ~3;
  const headLen = alignedStart - absStart;
  let sum = sumBytes(buf, offset, offset + headLen);
  const words = sumWords(wordsOver(buf), alignedStart >>> 2, alignedEnd >>> 2);
  // A native word holds bytes (b0 b1 b2 b3); mod 0xffff it equals the 16-bit words (b0,b1)+(b2,b3) read in
  // host order. Those words are "big-endian from start" only if b0 sits at an even distance from offset.
  const b0IsHigh = (headLen & 1) === 0;
  sum += b0IsHigh === IS_LITTLE_ENDIAN ? swap16(words) : words;
  // Tail: lanes continue from alignedEnd; alignedEnd - absStart has the parity of headLen.
  const tailStart = offset + (alignedEnd - absStart);
  if (tailStart < end) {
    const tail = sumBytes(buf, tailStart, end);
    sum += b0IsHigh ? tail : swap16(foldAny(tail));
  }
  return initial + sum;
}

/** Byte-loop-only variant of {@link checksumPartial} (kept for benchmarks and cross-checks). */
export function checksumPartialBytewise(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
  initial = 0,
): number {
  if (offset < 0) offset = 0;
  let end = offset + length;
  if (end > buf.length) end = buf.length;
  return initial + sumBytes(buf, offset, end);
}

/** Folds an unfolded sum to 16 bits (end-around carry), without complementing. */
export function checksumFold(sum: number): number {
  return foldAny(sum);
}

/** Folds and complements a sum: the value to write into a checksum field. */
export function checksumFinish(sum: number): number {
  return ~foldAny(sum) & 0xffff;
}

/** RFC 1071 checksum of `length` bytes of `buf` from `offset` (folded and complemented). */
export function internetChecksum(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
  return checksumFinish(checksumPartial(buf, offset, length));
}

/** Sum of an IPv4 address given as a uint32. */
function sumU32(x: number): number {
  return (x >>> 16) + (x & 0xffff);
}

/**
 * Pseudo-header sum for TCP/UDP over IPv4 (RFC 793/768) with addresses as uint32 values.
 * `upperLength` is the transport header + payload length.
 */
export function pseudoHeaderSumV4(
  source: number,
  destination: number,
  protocol: number,
  upperLength: number,
): number {
  return sumU32(source >>> 0) + sumU32(destination >>> 0) + (protocol & 0xff) + (upperLength & 0xffff);
}

/** Pseudo-header sum for TCP/UDP over IPv4 reading the 4-byte addresses from `buf` (e.g. an IPv4 header). */
export function pseudoHeaderSumV4At(
  buf: Uint8Array,
  sourceOffset: number,
  destinationOffset: number,
  protocol: number,
  upperLength: number,
): number {
  return (
    sumBytes(buf, sourceOffset, sourceOffset + 4) +
    sumBytes(buf, destinationOffset, destinationOffset + 4) +
    (protocol & 0xff) +
    (upperLength & 0xffff)
  );
}

/**
 * Pseudo-header sum for TCP/UDP/ICMPv6 over IPv6 (RFC 8200 §8.1), reading the 16-byte addresses from `buf`
 * at the given offsets. `upperLength` is the upper-layer packet length (may exceed 0xffff for jumbograms).
 */
export function pseudoHeaderSumV6(
  buf: Uint8Array,
  sourceOffset: number,
  destinationOffset: number,
  nextHeader: number,
  upperLength: number,
): number {
  return (
    sumBytes(buf, sourceOffset, sourceOffset + 16) +
    sumBytes(buf, destinationOffset, destinationOffset + 16) +
    sumU32(upperLength >>> 0) +
    (nextHeader & 0xff)
  );
}

/** Like {@link pseudoHeaderSumV6} but with the two addresses in separate buffers. */
export function pseudoHeaderSumV6Split(
  source: Uint8Array,
  sourceOffset: number,
  destination: Uint8Array,
  destinationOffset: number,
  nextHeader: number,
  upperLength: number,
): number {
  return (
    sumBytes(source, sourceOffset, sourceOffset + 16) +
    sumBytes(destination, destinationOffset, destinationOffset + 16) +
    sumU32(upperLength >>> 0) +
    (nextHeader & 0xff)
  );
}

function fold32(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}

/**
 * RFC 1624 (eqn. 3) incremental update: the new checksum after one 16-bit word covered by `checksum`
 * changed from `oldWord` to `newWord`. O(1). Note for UDP: map a 0 result to 0xffff (see nat helpers).
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  return ~fold32((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** RFC 1624 update for a 32-bit value (e.g. an IPv4 address as uint32, a TCP sequence number). O(1). */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const s =
    (~checksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    ((newValue >>> 16) & 0xffff) +
    (newValue & 0xffff);
  return ~fold32(s) & 0xffff;
}

/**
 * RFC 1624 update for `length` (even) bytes that changed from `oldBytes[oldOffset..]` to
 * `newBytes[newOffset..]` — e.g. a 16-byte IPv6 address. Cost depends on `length`, not on the payload.
 * The two ranges may be the same memory only if read before being overwritten (pass a copy otherwise).
 */
export function checksumUpdateBytes(
  checksum: number,
  oldBytes: Uint8Array,
  oldOffset: number,
  newBytes: Uint8Array,
  newOffset: number,
  length: number,
): number {
  let s = ~checksum & 0xffff;
  for (let i = 0; i + 1 < length; i += 2) {
    s +=
      (~((oldBytes[oldOffset + i]! << 8) | oldBytes[oldOffset + i + 1]!) & 0xffff) +
      ((newBytes[newOffset + i]! << 8) | newBytes[newOffset + i + 1]!);
    // Fold every step: keeps `s` a small integer for any length.
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~fold32(s) & 0xffff;
}

/** RFC 1624 update for an IPv6 address change (16 bytes). */
export function checksumUpdateIPv6(
  checksum: number,
  oldAddress: Uint8Array,
  oldOffset: number,
  newAddress: Uint8Array,
  newOffset: number,
): number {
  return checksumUpdateBytes(checksum, oldAddress, oldOffset, newAddress, newOffset, 16);
}
