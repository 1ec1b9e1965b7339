import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadLinuxLibc } from '@ztun/routing-linux';

// Memory back after many connections close (issue 17 item 2). With 9,000 connections held and closed, ztun's
// RSS stayed at ~180 MB (idle: ~70): the garbage is collected, but V8 keeps the old-space pages it grew into
// until a memory-reducing GC, which nothing triggers in a process that then sits idle (Node sends V8 no
// idle notifications), and glibc keeps freed heap memory below its top (malloc_trim(3)). One full GC plus
// malloc_trim(0) once the connection count has dropped far below its peak and stayed there brought the same
// run to ~68 MB 30 s after the close. Both cost one pause of a few ms, only after such a drop. Repeated
// bursts of short connections never drop that far (50 open at a time) and grew RSS burst after burst
// (79 → 122 MB over 4 bursts): the same reclaim also runs after CHURN connections came and went (82 → 102 →
// 84 → 104 → 85 MB), and the GC compacts (compactingFullGc).

/** A drop of at least this many connections from the peak (and the peak at least this high) triggers it. */
const DROP = 1000;
/** Checked this often; the count must have stayed low for one whole interval. */
const INTERVAL_MS = 5000;

type Gc = () => void;

let gc: Gc | undefined | null;
function fullGc(): Gc | undefined {
  if (gc === undefined) {
    try {
      // Node has no API for a GC; --expose-gc set at run time makes `gc` exist in contexts created after.
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as Gc;
    } catch {
      gc = null;
    }
  }
  return gc ?? undefined;
}

/**
 * One full GC that also compacts: V8's regular full GC frees dead objects but keeps every old-space page that
 * still holds a live one, so after a mass close ~20 MB of sparse pages stayed committed (9,000 connections:
 * old space 28.7 MB committed, 8.4 used, 30 s after the close). --compact-on-every-full-gc is read at each
 * mark-compact (V8 src/heap/mark-compact.cc, StartCompaction), so it is set for this one GC only.
 */
export function compactingFullGc(): boolean {
  const collect = fullGc();
  if (!collect) return false;
  let compacting = false;
  try {
    setFlagsFromString('--compact-on-every-full-gc');
    compacting = true;
  } catch {
    // without the flag: a regular full GC
  }
  try {
    collect();
  } finally {
    if (compacting) setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return true;
}

let trimFn: ((pad: number) => number) | undefined | null;
function mallocTrim(): void {
  if (trimFn === undefined) {
    try {
      trimFn = loadLinuxLibc().func('int malloc_trim(size_t pad)') as (pad: number) => number;
    } catch {
      trimFn = null; // not glibc (musl has no malloc_trim): V8's part still comes back
    }
  }
  trimFn?.(0);
}

/**
 * Connections opened and closed since the last reclaim (churn) that also trigger it — at least CHURN and
 * at least twice the connections open now, so a process holding many pays for a full GC only after as many
 * again came and went: repeated bursts of short connections then end each time near the same RSS.
 */
const CHURN = 5000;

/**
 * Watches `openConnections()`; after it fell by DROP or more from its peak and settled for an interval — or
 * after CHURN connections came and went (`totalConnections()`, when given) — runs one compacting full GC and
 * malloc_trim(0), then starts a new peak. Returns a stop function.
 */
export function reclaimAfterMassClose(
  openConnections: () => number,
  log: (line: string) => void,
  totalConnections?: () => number,
): () => void {
  let peak = 0;
  let previous = 0;
  let totalAtReclaim = totalConnections?.() ?? 0;
  const timer = setInterval(() => {
    const now = openConnections();
    if (now > peak) peak = now;
    const total = totalConnections?.() ?? 0;
    const churn = total - totalAtReclaim - now;
    // Down by DROP from the peak and settled (moved by less than a tenth of DROP over the last interval).
    const dropped = peak - now >= DROP && Math.abs(previous - now) < DROP / 10;
    if (dropped || churn >= Math.max(CHURN, 2 * now)) {
      const t0 = performance.now();
      compactingFullGc();
      mallocTrim();
      log(
        `memory: ${dropped ? `${peak} → ${now} connections` : `${churn} connections came and went`}, ` +
          `full GC and malloc_trim in ${(performance.now() - t0).toFixed(0)} ms`,
      );
      peak = now;
      totalAtReclaim = total;
    }
    previous = now;
  }, INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
