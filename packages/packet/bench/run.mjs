// Benchmarks for @ztun/packet (imports dist: build first). Prints figures; asserts nothing.
// The machine may be shared: compare ratios within one run, not across runs.
import {
  buildTcp,
  checksumPartial,
  checksumPartialBytewise,
  internetChecksum,
  PacketView,
  rewriteIPv4Source,
  rewriteSourcePort,
  TcpFlags,
} from '../dist/index.js';

const QUICK = process.argv.includes('--quick');
const TARGET_MS = QUICK ? 150 : 600;

/** Runs `fn(iterations)` with growing batches until TARGET_MS elapsed; returns ops per second. */
function measure(fn) {
  let iters = 16;
  // warm-up
  fn(iters);
  for (;;) {
    const t0 = process.hrtime.bigint();
    fn(iters);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= TARGET_MS) return (iters / ms) * 1000;
    iters = Math.min(iters * 2 ** Math.max(1, Math.ceil(Math.log2(TARGET_MS / Math.max(ms, 0.01)))), 2 ** 30);
  }
}

function fmt(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

let sink = 0;

// --- Naive reference: one 16-bit word per iteration, fold at the end.
function naive(buf, off, len) {
  let s = 0;
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (i < end) s += buf[i] << 8;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
// --- DataView 32-bit reads (one cached DataView over the buffer).
function dataView32(dv, off, len) {
  let s = 0;
  let i = off;
  const end = off + len;
  for (; i + 3 < end; i += 4) s += dv.getUint32(i);
  for (; i + 1 < end; i += 2) s += dv.getUint16(i);
  if (i < end) s += dv.getUint8(i) << 8;
  return s;
}

console.log(`@ztun/packet benchmarks (node ${process.version}${QUICK ? ', quick' : ''})`);
console.log('\nchecksum throughput (GB/s = 1e9 bytes/s)');
console.log('size      | checksumPartial (word loop) | bytewise (8x unrolled) | naive 16-bit | DataView u32');
for (const size of [64, 1500, 65536]) {
  const backing = new ArrayBuffer(size + 64);
  const buf = new Uint8Array(backing, 16, size);
  for (let i = 0; i < size; i++) buf[i] = (i * 131 + 7) & 0xff;
  const dv = new DataView(backing, 16, size);
  const rows = [
    measure((n) => {
      for (let k = 0; k < n; k++) sink ^= checksumPartial(buf, 0, size, k & 1);
    }),
    measure((n) => {
      for (let k = 0; k < n; k++) sink ^= checksumPartialBytewise(buf, 0, size, k & 1);
    }),
    measure((n) => {
      for (let k = 0; k < n; k++) sink ^= naive(buf, 0, size) + (k & 1);
    }),
    measure((n) => {
      for (let k = 0; k < n; k++) sink ^= dataView32(dv, 0, size) + (k & 1);
    }),
  ];
  console.log(
    `${String(size).padEnd(9)} | ${rows.map((ops) => `${((ops * size) / 1e9).toFixed(2)} GB/s (${fmt(ops)} ops/s)`).join(' | ')}`,
  );
}

console.log('\nIPv4/TCP source address + port rewrite with checksum fix-up (packets/s)');
const pv = new PacketView();
const results = [];
for (const payload of [64, 65495]) {
  const buf = new Uint8Array(65536);
  const len = buildTcp(
    buf,
    0,
    { version: 4, source: 0x0ac80002, destination: 0xc6120001 },
    { sourcePort: 40000, destinationPort: 443, flags: TcpFlags.ACK },
    payload,
  );
  const incremental = measure((n) => {
    for (let k = 0; k < n; k++) {
      pv.reset(buf, 0, len);
      rewriteIPv4Source(pv, 0xc0000207 + (k & 0xff));
      rewriteSourcePort(pv, 1024 + (k & 0x7fff));
    }
  });
  const full = measure((n) => {
    for (let k = 0; k < n; k++) {
      pv.reset(buf, 0, len);
      pv.ipv4.source = 0xc0000207 + (k & 0xff);
      pv.tcp.sourcePort = 1024 + (k & 0x7fff);
      pv.updateChecksums();
    }
  });
  if (!pv.verifyTransportChecksum() || !pv.ipv4.verifyHeaderChecksum())
    throw new Error('bench rewrite broke a checksum');
  results.push(incremental);
  console.log(
    `payload ${String(payload).padEnd(6)} (packet ${len} B): incremental (RFC 1624) ${fmt(incremental)} pkt/s | full recompute ${fmt(full)} pkt/s`,
  );
}
console.log(
  `ratio 64 B / 65495 B incremental: ${(results[0] / results[1]).toFixed(2)} (≈1 means O(1) in payload)`,
);
if (sink === 0.5) console.log(internetChecksum(new Uint8Array(1)));
