// The koffi packet path of @ztun/tun-windows on whatever Node runs it: the real bindings (createWintunApi)
// over the C stand-in library, every echoed packet crossing koffi six times as on Windows (ReceivePacket,
// copy, ReleaseReceivePacket, AllocateSendPacket, copy, SendPacket), plus the cost of one trivial koffi call.
// On Linux: the stand-in compiled here (cc), libc copies. On Windows Node (CI's Wine step: ZTUN_WINE_BENCH=1
// bash scripts/ci/wine-tests.sh): the mingw-built stand-in DLL ($ZTUN_STANDIN_DIR/full.dll) over the real
// kernel32 (RtlMoveMemory, WaitForSingleObject). Prints figures; asserts nothing. Needs `npx tsup` first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { createWintunApi, openWintunDevice } from '../dist/index.js';

const onWindows = process.platform === 'win32';
const here = path.dirname(fileURLToPath(import.meta.url));
let dir;
function library() {
  if (onWindows) return path.join(process.env.ZTUN_STANDIN_DIR ?? '.', 'full.dll');
  dir = mkdtempSync(path.join(tmpdir(), 'ztun-bench-'));
  const so = path.join(dir, 'standin.so');
  execFileSync('cc', [
    path.join(here, '..', 'test', 'fixtures', 'windows-standin.c'),
    '-shared',
    '-fPIC',
    '-O2',
    '-pthread',
    '-o',
    so,
  ]);
  return so;
}

const host = {
  interfaceIndex: () => 1,
  setInterface() {},
  addAddress: () => true,
  deleteAddress: () => true,
};

function callCost() {
  const crt = koffi.load(onWindows ? 'msvcrt.dll' : 'libc.so.6');
  const abs = crt.func('int abs(int)');
  for (let i = 0; i < 20_000; i++) abs(-i);
  const n = 500_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) abs(-i);
  return Number(process.hrtime.bigint() - t0) / n;
}

async function loop(lib, kernel32, size, batchSize, total) {
  const injectMany = lib.func('int FakeInjectMany(uintptr_t s, const uint8_t *p, uint32_t len, int count)');
  const discard = lib.func('void FakeDiscardSent(uintptr_t s, int on)');
  const api = createWintunApi(koffi, lib, kernel32);
  let session = 0;
  const spied = { ...api, startSession: (a, c) => (session = api.startSession(a, c)) };
  const dev = openWintunDevice(spied, host, { batchSize, mtu: 1500, waitTimeoutMs: 20 });
  discard(session, 1);
  const pkt = new Uint8Array(size);
  pkt[0] = 0x45;
  let queued = injectMany(session, pkt, size, Math.min(8192, total));
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    dev.onBatch((b) => {
      dev.writeBatch(b);
      if (dev.counters.rxPackets === total) resolve();
      else if (queued - dev.counters.rxPackets < 2048 && queued < total)
        queued += injectMany(session, pkt, size, Math.min(4096, total - queued));
    });
  });
  const ns = Number(process.hrtime.bigint() - t0);
  await dev.close();
  return { mpps: (total / ns) * 1e3, gbps: (total * size * 8) / ns, nsPerPacket: ns / total };
}

try {
  const lib = koffi.load(library());
  const kernel32 = onWindows ? koffi.load('kernel32.dll') : lib;
  console.log(`bench standin-loop: node ${process.version} ${process.platform}/${process.arch}`);
  console.log(`  one koffi call (int abs(int)): ${callCost().toFixed(0)} ns`);
  for (const size of [64, 1400]) {
    const r = await loop(lib, kernel32, size, 64, 200_000);
    console.log(
      `  echo ${String(size).padStart(4)} B, batchSize 64: ${r.mpps.toFixed(3)} Mpps (${r.gbps.toFixed(2)} Gbit/s), ${r.nsPerPacket.toFixed(0)} ns/packet`,
    );
  }
} finally {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
