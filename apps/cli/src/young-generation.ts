import { setFlagsFromString } from 'node:v8';

// Memory per held connection (issue 17 item 2). A burst of new connections grows V8's young generation (its
// two semi-spaces) to the maximum, 16 MB each on 64-bit, and V8 hands that back only on a memory-reducing GC,
// which a process that then sits idle with its connections does not get: ~30 MB of ztun's RSS with 9,000
// held (bench/held-heap.mjs: new_space 32 MB committed, ~1 MB used). ztun's own allocation rate is low —
// payload moves in the kernel (splice relay) or as off-heap buffers — so a small young generation costs a
// few more scavenges under a connection burst. V8 reads --semi-space-growth-factor each time it would grow
// the young generation (src/heap/new-spaces.cc, SemiSpaceNewSpace::Grow: new capacity = min(maximum, factor ×
// current)), unlike the size flags, which count only before the heap exists: a factor of 1 set at start
// keeps the semi-spaces at their initial size (1 MB on 64-bit). Measured: 9,000 held, RSS 145 → 124 MB.

/** For `ztun run` only (the process is ztun's): an embedder's heap is left as its owner configured it. */
export function keepYoungGenerationSmall(): void {
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // A V8 without the flag: the default growth, nothing else changes.
  }
}
