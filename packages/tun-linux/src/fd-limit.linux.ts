import { loadLinuxLibc } from '@ztun/routing-linux';

// RLIMIT_NOFILE (getrlimit(2)/setrlimit(2)): every relayed TCP connection holds two sockets, so the soft
// limit (often 1024) caps a tunnel at a few hundred connections while the hard limit allows far more.
// Raising the soft limit up to the hard one needs no privilege; above the hard one needs CAP_SYS_RESOURCE.

const RLIMIT_NOFILE = 7; // asm-generic/resource.h (x86-64 and arm64 alike)
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

export interface FdLimit {
  /** The soft limit now (after raising). */
  soft: number;
  hard: number;
  /** The soft limit before, when it was raised. */
  raisedFrom?: number;
}

let fns:
  | { get(res: number, lim: BigUint64Array): number; set(res: number, lim: BigUint64Array): number }
  | undefined;

function rlimitFns() {
  if (!fns) {
    const lib = loadLinuxLibc();
    fns = {
      get: lib.func('int getrlimit(int, _Out_ uint64_t *lim)'),
      set: lib.func('int setrlimit(int, const uint64_t *lim)'),
    } as unknown as typeof fns;
  }
  return fns!;
}

const asNumber = (v: bigint) =>
  v >= RLIM_INFINITY || v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);

/** The process's RLIMIT_NOFILE. */
export function fdLimit(): FdLimit {
  const lim = new BigUint64Array(2);
  if (rlimitFns().get(RLIMIT_NOFILE, lim) !== 0) throw new Error('getrlimit(RLIMIT_NOFILE) failed');
  return { soft: asNumber(lim[0]!), hard: asNumber(lim[1]!) };
}

/**
 * Raises RLIMIT_NOFILE's soft limit to the hard limit (when the hard limit is unlimited, to
 * /proc/sys/fs/nr_open's usual 1048576 — setrlimit refuses more than nr_open). Returns the limits after.
 * Never throws for a refusal: the limits as they are come back.
 */
export function raiseFdLimit(): FdLimit {
  const before = fdLimit();
  if (before.soft >= before.hard) return before;
  const target = Number.isFinite(before.hard) ? before.hard : 1_048_576;
  const lim = new BigUint64Array(2);
  rlimitFns().get(RLIMIT_NOFILE, lim);
  lim[0] = BigInt(target);
  if (rlimitFns().set(RLIMIT_NOFILE, lim) !== 0) return before;
  return { ...fdLimit(), raisedFrom: before.soft };
}
