/**
 * Copies between native memory (Wintun ring slots, addressed by plain numbers) and JS buffers without
 * koffi.view: measured on this machine (README), creating a view costs ~1.6 µs and returning a pointer object
 * ~0.3 µs, while a call taking and returning uintptr_t numbers costs ~0.1-0.2 µs. The device's batch buffer is
 * allocated in native memory once, so copies into and out of it are integer-only calls.
 * The copy function is injected: RtlMoveMemory (kernel32) on Windows, libc memcpy in tests on Linux.
 */
import type koffiNs from 'koffi';

type Koffi = typeof koffiNs;

/** The three shapes of one `void copy(dst, src, size_t n)` function bound with koffi. */
export interface CopyFunctions {
  /** (uintptr_t dst, uintptr_t src, size_t n) */
  addrToAddr: (dst: number, src: number, n: number) => unknown;
  /** (uint8_t *dst, uintptr_t src, size_t n) */
  addrToBuffer: (dst: Uint8Array, src: number, n: number) => unknown;
  /** (uintptr_t dst, const uint8_t *src, size_t n) */
  bufferToAddr: (dst: number, src: Uint8Array, n: number) => unknown;
}

/** Binds the three shapes of a memcpy-like export of `lib`. */
export function bindCopyFunctions(lib: koffiNs.IKoffiLib, symbol: string, ret = 'void'): CopyFunctions {
  return {
    addrToAddr: lib.func(`${ret} ${symbol}(uintptr_t dst, uintptr_t src, size_t n)`),
    addrToBuffer: lib.func(`${ret} ${symbol}(uint8_t *dst, uintptr_t src, size_t n)`),
    bufferToAddr: lib.func(`${ret} ${symbol}(uintptr_t dst, const uint8_t *src, size_t n)`),
  };
}

export interface NativeMemory {
  /** A zeroed buffer in native memory; copies to/from it avoid passing JS buffers through koffi. */
  alloc(size: number): Uint8Array;
  /** Frees a buffer from alloc(). The Uint8Array must not be used afterwards. */
  free(buffer: Uint8Array): void;
  /** Copy n bytes from native address `src` into dst[dstOffset..]. */
  copyIn(dst: Uint8Array, dstOffset: number, src: number, n: number): void;
  /** Copy n bytes from src[srcOffset..] to native address `dst`. */
  copyOut(dst: number, src: Uint8Array, srcOffset: number, n: number): void;
}

export function createNativeMemory(koffi: Koffi, copy: CopyFunctions): NativeMemory {
  const bases = new WeakMap<ArrayBufferLike, { address: number; pointer: unknown }>();
  return {
    alloc(size) {
      const pointer = koffi.alloc('uint8_t', size);
      const address = Number(koffi.address(pointer));
      const buffer = new Uint8Array(koffi.view(pointer, size));
      buffer.fill(0);
      bases.set(buffer.buffer, { address, pointer });
      return buffer;
    },
    free(buffer) {
      const b = bases.get(buffer.buffer);
      if (!b) return;
      bases.delete(buffer.buffer);
      koffi.free(b.pointer);
    },
    copyIn(dst, dstOffset, src, n) {
      const b = bases.get(dst.buffer);
      if (b) copy.addrToAddr(b.address + dst.byteOffset + dstOffset, src, n);
      else copy.addrToBuffer(dst.subarray(dstOffset, dstOffset + n), src, n);
    },
    copyOut(dst, src, srcOffset, n) {
      const b = bases.get(src.buffer);
      if (b) copy.addrToAddr(dst, b.address + src.byteOffset + srcOffset, n);
      else copy.bufferToAddr(dst, src.subarray(srcOffset, srcOffset + n), n);
    },
  };
}
