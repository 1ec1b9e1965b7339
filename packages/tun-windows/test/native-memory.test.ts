/**
 * The integer-pointer copy path of the Windows bindings, exercised for real: on Windows Node (CI: under Wine)
 * with kernel32 RtlMoveMemory itself, on Linux with libc memcpy standing in for it (same argument shapes).
 */
import { skipUnless } from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { bindCopyFunctions, createNativeMemory } from '../src/native-memory.js';
import { COPY_SYMBOL } from '../src/wintun.windows.js';

const copier =
  process.platform === 'win32'
    ? { lib: 'kernel32.dll', symbol: COPY_SYMBOL, ret: 'void' }
    : process.platform === 'linux'
      ? { lib: 'libc.so.6', symbol: 'memcpy', ret: 'uintptr_t' }
      : undefined;

describe(
  `native memory copies (${copier?.symbol ?? 'no copy function'})`,
  skipUnless(copier !== undefined, 'native-memory tests load kernel32.dll or libc.so.6: Windows or Linux'),
  () => {
    const on = copier !== undefined;
    const lib = copier ? koffi.load(copier.lib) : undefined;
    const mem = lib
      ? createNativeMemory(koffi, bindCopyFunctions(lib, copier!.symbol, copier!.ret))
      : undefined!;
    const slot = on ? koffi.alloc('uint8_t', 256) : undefined;
    const slotAddr = on ? Number(koffi.address(slot)) : 0;
    const slotView = on ? new Uint8Array(koffi.view(slot, 256)) : new Uint8Array(0);
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
