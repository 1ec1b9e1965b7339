/**
 * The integer-pointer copy path of the Windows bindings, exercised for real on Linux with libc memcpy standing
 * in for kernel32 RtlMoveMemory (same argument shapes).
 */
import { skipUnless } from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { bindCopyFunctions, createNativeMemory } from '../src/native-memory.js';

const onLinux = process.platform === 'linux';

describe(
  'native memory copies (libc memcpy as the stand-in)',
  skipUnless(onLinux, 'native-memory tests load libc.so.6: Linux only'),
  () => {
    const libc = onLinux ? koffi.load('libc.so.6') : undefined;
    const mem = libc ? createNativeMemory(koffi, bindCopyFunctions(libc, 'memcpy', 'uintptr_t')) : undefined!;
    const slot = onLinux ? koffi.alloc('uint8_t', 256) : undefined;
    const slotAddr = onLinux ? Number(koffi.address(slot)) : 0;
    const slotView = onLinux ? new Uint8Array(koffi.view(slot, 256)) : new Uint8Array(0);
    afterAll(() => {
      if (slot) koffi.free(slot);
    });

    it('copyIn into a native batch buffer at an offset (integer-only call)', () => {
      const batch = mem.alloc(4096);
      expect(batch.every((b) => b === 0)).toBe(true);
      slotView.set([1, 2, 3, 4, 5], 0);
      mem.copyIn(batch, 1000, slotAddr, 5);
      expect(Array.from(batch.subarray(999, 1006))).toEqual([0, 1, 2, 3, 4, 5, 0]);
      // a subarray of the native buffer keeps its byteOffset
      mem.copyIn(batch.subarray(2000), 10, slotAddr + 1, 3);
      expect(Array.from(batch.subarray(2010, 2013))).toEqual([2, 3, 4]);
      mem.free(batch);
    });

    it('copyIn into an ordinary JS buffer (typed-array pointer path), minding byteOffset', () => {
      const js = new Uint8Array(64).subarray(8);
      slotView.set([9, 8, 7], 0);
      mem.copyIn(js, 4, slotAddr, 3);
      expect(Array.from(js.subarray(3, 8))).toEqual([0, 9, 8, 7, 0]);
    });

    it('copyOut from native and from JS buffers', () => {
      const batch = mem.alloc(128);
      batch.set([0xaa, 0xbb, 0xcc], 50);
      slotView.fill(0);
      mem.copyOut(slotAddr + 10, batch, 50, 3);
      expect(Array.from(slotView.subarray(9, 14))).toEqual([0, 0xaa, 0xbb, 0xcc, 0]);
      const js = Uint8Array.of(1, 2, 3, 4, 5, 6);
      mem.copyOut(slotAddr, js.subarray(2), 1, 2);
      expect(Array.from(slotView.subarray(0, 3))).toEqual([4, 5, 0]);
      mem.free(batch);
    });
  },
);
