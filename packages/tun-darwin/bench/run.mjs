// Benchmarks of the OS-free utun engine (framing, batching, echo writes) over an in-memory fd.
// The fd costs ~nothing, so these figures are the JS overhead per packet, not macOS syscall throughput.
import { performance } from 'node:perf_hooks';
import { EAGAIN, frameUtunPacket, UtunDevice } from '../dist/index.js';

function packet(size) {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  return p;
}

/** An fd that hands out the same datagram `total` times and swallows writes. */
class MemoryFd {
  constructor(datagram, total) {
    this.datagram = datagram;
    this.left = total;
    this.writes = 0;
  }
  bind(onReady) {
    this.onReady = onReady;
  }
  read(buffer, offset) {
    if (this.left === 0) return -EAGAIN;
    this.left--;
    buffer.set(this.datagram, offset);
    return this.datagram.length;
  }
  write(_buffer, _offset, length) {
    this.writes++;
    return length;
  }
  setInterest() {}
  async close() {}
}

function run(label, size, inPlace) {
  const total = 2_000_000;
  const fd = new MemoryFd(frameUtunPacket(packet(size)), total);
  const dev = new UtunDevice(
    fd,
    { name: 'utun0', index: 1, mtu: 1500 },
    { batchSize: 64, batchesPerWake: 1 << 30 },
  );
  const foreign = new Uint8Array(64 * 1500);
  for (let i = 0; i < 64; i++) foreign[i * 1500] = 0x45;
  const offsets = new Uint32Array(64);
  const lengths = new Uint32Array(64);
  dev.onBatch((batch) => {
    if (inPlace) {
      dev.writeBatch(batch);
      return;
    }
    for (let i = 0; i < batch.count; i++) {
      offsets[i] = i * 1500;
      lengths[i] = batch.lengths[i];
    }
    dev.writeBatch({ count: batch.count, data: foreign, offsets, lengths });
  });
  const t0 = performance.now();
  while (fd.left > 0) fd.onReady(true, false);
  const ms = performance.now() - t0;
  const pps = total / (ms / 1000);
  console.log(
    `${label.padEnd(44)} ${(pps / 1e6).toFixed(2)} Mpps  (${total} packets in ${ms.toFixed(0)} ms)`,
  );
  if (fd.writes !== total || dev.counters.rxPackets !== total) throw new Error('lost packets');
  return pps;
}

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
for (let i = 0; i < 2; i++) {
  run('(warm-up) in place', 64, true);
  run('(warm-up) copy', 64, false);
}
const a = run('read+strip+echo in place, 64 B', 64, true);
const b = run('read+strip+echo framed via scratch copy, 64 B', 64, false);
const c = run('read+strip+echo in place, 1500 B', 1500, true);
const d = run('read+strip+echo framed via scratch copy, 1500 B', 1500, false);
console.log(`in place / copy: ${(a / b).toFixed(2)}× at 64 B, ${(c / d).toFixed(2)}× at 1500 B`);
