import { getHeapSpaceStatistics } from 'node:v8';
import { skipUnless } from '@ztun/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compactingFullGc, reclaimAfterMassClose } from '../src/platform/memory.linux.js';

const oldSpaceCommitted = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;

describe(
  'reclaimAfterMassClose',
  skipUnless(process.platform === 'linux', 'malloc_trim is glibc on Linux'),
  () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('runs once after the connection count fell ≥ 1000 below its peak and stayed there, not on churn', () => {
      vi.useFakeTimers();
      let open = 0;
      const lines: string[] = [];
      const stop = reclaimAfterMassClose(
        () => open,
        (l) => lines.push(l),
      );
      const tick = (n: number) => {
        open = n;
        vi.advanceTimersByTime(5000);
      };
      tick(500);
      tick(900);
      tick(200); // churn well below the threshold
      tick(9000); // a peak
      tick(8500);
      expect(lines).toEqual([]);
      tick(100); // the mass close
      expect(lines).toEqual([]); // not yet: it must stay down for an interval
      tick(100);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^memory: 9000 → 100 connections, full GC and malloc_trim in \d+ ms$/);
      tick(100);
      tick(50);
      expect(lines).toHaveLength(1); // once per drop
      stop();
    });

    it('also runs after CHURN connections came and went (≥ 5000 and ≥ twice those open), once each time', () => {
      vi.useFakeTimers();
      let open = 0;
      let total = 0;
      const lines: string[] = [];
      const stop = reclaimAfterMassClose(
        () => open,
        (l) => lines.push(l),
        () => total,
      );
      const tick = (o: number, t: number) => {
        open = o;
        total = t;
        vi.advanceTimersByTime(5000);
      };
      tick(50, 3000); // a burst of short connections, 50 at a time
      expect(lines).toEqual([]);
      tick(50, 5100);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^memory: 5050 connections came and went, full GC and malloc_trim in \d+ ms$/);
      tick(40, 9000);
      expect(lines).toHaveLength(1); // counted from the last reclaim
      tick(40, 10_200);
      expect(lines).toHaveLength(2);
      // Many held: as many again must come and go first.
      tick(8000, 18_200);
      tick(8000, 28_000);
      expect(lines).toHaveLength(2);
      tick(8000, 36_300);
      expect(lines).toHaveLength(3);
      stop();
    });

    it('gives back sparse old-space pages that a regular full GC keeps (compaction for that one GC)', () => {
      // Fragment the old space as a mass close does: many small long-lived objects, then 4 in 5 die.
      let keep: object[] = [];
      for (let i = 0; i < 400_000; i++) keep.push({ i, a: [i], s: `x${i}` });
      expect(compactingFullGc()).toBe(true); // promoted: all live in old space now
      keep = keep.filter((_, i) => i % 5 === 0);
      const before = oldSpaceCommitted();
      expect(compactingFullGc()).toBe(true);
      const after = oldSpaceCommitted();
      // A regular full GC leaves nearly every page committed (each still holds a survivor).
      expect(before - after).toBeGreaterThan(before / 3);
      expect(keep).toHaveLength(80_000);
    });
  },
);
