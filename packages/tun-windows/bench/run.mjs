// Benchmarks of what runs here (nothing measures wintun.dll or Windows): the JS read/dispatch/write loop over
// an in-memory fake Wintun (no FFI); the per-packet FFI cost of two ways to copy a received packet (libc
// memcpy standing in for the wintun.dll calls); and the real bindings (createWintunApi) over the C stand-in
// library of the tests. Prints figures; asserts nothing. Needs `npx tsup` and a C compiler (`cc`).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import {
  bindCopyFunctions,
  createNativeMemory,
  encodeForwardRow,
  openWintunDevice,
  parsePrefix,
} from '../dist/index.js';

const ERROR_NO_MORE_ITEMS = 259;

class RingFake {
  constructor(packet, total) {
    this.packet = packet;
    this.left = total;
    this.sent = 0;
  }
  createAdapter() {
    return {};
  }
  openAdapter() {
    return {};
  }
  closeAdapter() {}
  getAdapterLuid() {
    return 1n;
  }
  getRunningDriverVersion() {
    return { version: 14, error: 0 };
  }
  setLogger() {}
  startSession() {
    return {};
  }
  endSession() {}
  getReadWaitEvent() {
    return {};
  }
  receivePacket(_s, dst, offset) {
    if (this.left === 0) return -ERROR_NO_MORE_ITEMS;
    this.left--;
    dst.set(this.packet, offset);
    return this.packet.length;
  }
  sendPacket() {
    this.sent++;
    return 0;
  }
  waitForEvent() {
    return new Promise((r) => setTimeout(() => r(258), 1));
  }
}

const host = {
  interfaceIndex: () => 1,
  setInterface() {},
  addAddress: () => true,
  deleteAddress: () => true,
};

async function loop(size, batchSize, total) {
  const pkt = new Uint8Array(size);
  pkt[0] = 0x45;
  const fake = new RingFake(pkt, total);
  const dev = openWintunDevice(fake, host, { batchSize, mtu: 1500, waitTimeoutMs: 1 });
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    dev.onBatch((b) => {
      dev.writeBatch(b); // echo, as a stack rewriting in place would
      if (fake.sent === total) resolve();
    });
  });
  const ns = Number(process.hrtime.bigint() - t0);
  await dev.close();
  return { mpps: (total / ns) * 1e3, gbps: (total * size * 8) / ns };
}

// Per-packet FFI cost of a receive as the bindings do it, with libc memcpy standing in for the three calls
// (ReceivePacket → pointer, copy into the batch buffer, ReleaseReceivePacket).
function ffiReceiveCost() {
  const libc = koffi.load('libc.so.6');
  const slot = koffi.alloc('uint8_t', 2048);
  const slotAddr = Number(koffi.address(slot));
  const batch = createNativeMemory(koffi, bindCopyFunctions(libc, 'memcpy', 'uintptr_t'));
  const batchBuf = batch.alloc(1 << 20);
  const jsBuf = new Uint8Array(1 << 20);
  const retPtr = libc.func('void *memcpy(void *dst, const void *src, size_t n)');
  const retInt = libc.func('uintptr_t memcpy(uintptr_t dst, uintptr_t src, size_t n)');
  const voidPtr = libc.func('void memcpy(void *dst, const void *src, size_t n)');
  const voidInt = libc.func('void memcpy(uintptr_t dst, uintptr_t src, size_t n)');
  const plain = libc.func('int abs(int)');
  const run = (fn) => {
    for (let i = 0; i < 20_000; i++) fn(i);
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const size = 1400;
  const results = {
    'int abs(int) (baseline call)': run(() => plain(-3)),
    'pointer objects + koffi.view copy (first cut)': run((i) => {
      const p = retPtr(slot, slot, 0);
      jsBuf.set(new Uint8Array(koffi.view(p, size)), (i & 511) * 1500);
      voidPtr(slot, p, 0);
    }),
    'uintptr_t numbers + copy into native batch buffer (used)': run((i) => {
      const p = retInt(slotAddr, slotAddr, 0);
      batch.copyIn(batchBuf, (i & 511) * 1500, p, size);
      voidInt(slotAddr, p, 0);
    }),
    'uintptr_t numbers + copy into a JS buffer (fallback)': run((i) => {
      const p = retInt(slotAddr, slotAddr, 0);
      batch.copyIn(jsBuf, (i & 511) * 1500, p, size);
      voidInt(slotAddr, p, 0);
    }),
  };
  batch.free(batchBuf);
  koffi.free(slot);
  return results;
}

function encodeCost() {
  const row = new Uint8Array(104);
  const f = {
    luid: 1n,
    destination: parsePrefix('10.0.0.0/8', true),
    nextHop: null,
    metric: 7024,
    protocol: 3,
  };
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) encodeForwardRow(row, f);
  return Number(process.hrtime.bigint() - t0) / n;
}

const total = 400_000;
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
console.log('JS loop over a fake Wintun (receive copy → receiver → writeBatch echo), no FFI:');
for (const size of [64, 1400]) {
  for (const batch of [1, 64]) {
    const r = await loop(size, batch, total);
    console.log(
      `  ${String(size).padStart(4)} B packets, batchSize ${String(batch).padStart(2)}: ${r.mpps.toFixed(2)} Mpps (${r.gbps.toFixed(2)} Gbit/s)`,
    );
  }
}
console.log('FFI cost of one 1400 B receive (3 koffi calls, libc memcpy standing in for wintun.dll):');
for (const [what, ns] of Object.entries(ffiReceiveCost())) {
  console.log(`  ${what}: ${ns.toFixed(0)} ns/packet`);
}
// The real bindings over the C stand-in library: standin-loop.mjs (the same loop CI's Wine step runs on
// Windows Node), in a child so its figures print here in order.
execFileSync(
  process.execPath,
  [path.join(path.dirname(fileURLToPath(import.meta.url)), 'standin-loop.mjs')],
  {
    stdio: 'inherit',
  },
);
console.log(`encodeForwardRow: ${encodeCost().toFixed(0)} ns/row`);
