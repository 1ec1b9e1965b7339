// RLIMIT_NOFILE: ztun raises its soft limit to the hard one at start (issue 17 item 1).
import { skipUnless } from '@ztun/testkit';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { fdLimit, raiseFdLimit } from '../src/fd-limit.linux.js';

const RLIMIT_NOFILE = 7;

describe(
  'raiseFdLimit',
  skipUnless(process.platform === 'linux', 'RLIMIT_NOFILE through libc is Linux'),
  () => {
    it('raises the soft limit to the hard limit and says from what', () => {
      const lib = koffi.load('libc.so.6');
      const set = lib.func('int setrlimit(int, const uint64_t *lim)') as (
        r: number,
        l: BigUint64Array,
      ) => number;
      const start = fdLimit();
      expect(start.hard).toBeGreaterThan(1024);
      try {
        expect(set(RLIMIT_NOFILE, BigUint64Array.of(1024n, BigInt(start.hard)))).toBe(0);
        expect(fdLimit()).toEqual({ soft: 1024, hard: start.hard });
        expect(raiseFdLimit()).toEqual({ soft: start.hard, hard: start.hard, raisedFrom: 1024 });
        // Already at the hard limit: nothing to do, nothing claimed.
        expect(raiseFdLimit()).toEqual({ soft: start.hard, hard: start.hard });
      } finally {
        set(RLIMIT_NOFILE, BigUint64Array.of(BigInt(start.soft), BigInt(start.hard)));
      }
    });
  },
);
