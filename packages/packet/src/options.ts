/**
 * Allocation-free walker over type-length-value options as used by IPv4 (RFC 791) and TCP (RFC 9293):
 * kind 0 = end of option list, kind 1 = no-operation (both one byte), every other kind has a length byte
 * that counts the kind and length bytes themselves.
 *
 * ```ts
 * const it = new OptionIterator();
 * it.reset(buf, tcp.optionsOffset, tcp.optionsLength);
 * while (it.next()) if (it.kind === 2) console.log('mss at', it.offset);
 * if (it.malformed) ...
 * ```
 */
export class OptionIterator {
  /** The buffer being walked. */
  buf: Uint8Array = new Uint8Array(0);
  /** Kind byte of the current option. */
  kind = -1;
  /** Offset (in `buf`) of the current option's kind byte. */
  offset = 0;
  /** Total length of the current option including kind and length bytes (1 for EOL/NOP). */
  length = 0;
  /** True once the walk met an option whose length byte is < 2 or runs past the end. */
  malformed = false;
  private pos = 0;
  private end = 0;

  /** Points the walker at `length` bytes of options in `buf` from `offset`; clamps to the buffer. */
  reset(buf: Uint8Array, offset: number, length: number): this {
    this.buf = buf;
    this.pos = Math.max(0, offset);
    this.end = Math.min(buf.length, offset + Math.max(0, length));
    this.kind = -1;
    this.offset = this.pos;
    this.length = 0;
    this.malformed = false;
    return this;
  }

  /** Advances to the next option other than NOP. Returns false at the end, at EOL, or on a malformed option. */
  next(): boolean {
    const buf = this.buf;
    while (this.pos < this.end) {
      const kind = buf[this.pos]!;
      if (kind === 0) {
        this.pos = this.end;
        return false;
      }
      if (kind === 1) {
        this.pos++;
        continue;
      }
      if (this.pos + 1 >= this.end) {
        this.malformed = true;
        this.pos = this.end;
        return false;
      }
      const len = buf[this.pos + 1]!;
      if (len < 2 || this.pos + len > this.end) {
        this.malformed = true;
        this.pos = this.end;
        return false;
      }
      this.kind = kind;
      this.offset = this.pos;
      this.length = len;
      this.pos += len;
      return true;
    }
    return false;
  }
}

/**
 * Finds option `kind` in `buf[offset, offset+length)`. Returns the offset of its kind byte, or -1 when absent
 * or the list is malformed before it.
 */
export function findOption(buf: Uint8Array, offset: number, length: number, kind: number): number {
  let pos = Math.max(0, offset);
  const end = Math.min(buf.length, offset + Math.max(0, length));
  while (pos < end) {
    const k = buf[pos]!;
    if (k === 0) return -1;
    if (k === 1) {
      pos++;
      continue;
    }
    if (pos + 1 >= end) return -1;
    const len = buf[pos + 1]!;
    if (len < 2 || pos + len > end) return -1;
    if (k === kind) return pos;
    pos += len;
  }
  return -1;
}
