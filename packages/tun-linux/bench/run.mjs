// Echo-loop benchmark for @ztun/tun-linux: kernel → TUN → JS → TUN, with the addon and with the fs.read
// baseline, at several MTUs, in one run — next to the same loop in plain C as the kernel's reference.
//
// The loop: a TUN in a private namespace holds 10.220.0.1/24. JS reflects every packet sent into the TUN by
// swapping its source and destination addresses (checksums are sums, so they stay valid). A connection from
// 10.220.0.1 to 10.220.0.2:P therefore comes back as 10.220.0.2 → 10.220.0.1:P, reaches the iperf3 server in
// the same namespace, and the server's answers take the same path back: real iperf3 TCP and UDP flows whose
// every packet crosses the device twice (read, then written), with no userspace peer but the code under test.
// TCP measures the throughput the loop sustains (TCP adapts to whatever the loop drains); UDP at full offered
// load measures its packet rate (the iperf3 receiver drops most of it: read the device columns).
// "CPU µs/packet" is the echo process's own CPU time (user + system, so including the kernel work done inside
// its read/write calls) per packet read: the device's cost, much less sensitive to machine load than rates.
//
// Usage: pnpm bench [-- --seconds 4 --quick --mtu 1500 --io native --proto tcp --batch 64 --wake 4]
// (root, /dev/net/tun, iproute2, iperf3; a C compiler for the reference loops, which are skipped without one)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, netnsSkipReason, runInNetns, waitFor, waitForPort } from '@ztun/testkit';
import { openTunSync } from '../dist/index.js';

const args = process.argv.slice(2);
const only = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const seconds = Number(only('--seconds')) || 4;
const quick = args.includes('--quick');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const reason = netnsSkipReason();
if (reason) {
  console.log(`[skip] tun-linux bench: ${reason}`);
  process.exit(0);
}

/** Reflects every IPv4/IPv6 packet of a batch in place (address swap) and writes the batch back. */
function reflector(dev, stats) {
  let words = new Uint32Array(0);
  let buffer;
  return (batch) => {
    const data = batch.data;
    if (data.buffer !== buffer) {
      buffer = data.buffer;
      words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
    }
    const { offsets, count } = batch;
    for (let i = 0; i < count; i++) {
      const off = offsets[i]; // slots are 64-byte aligned
      const w = off >>> 2;
      if (data[off] >>> 4 === 4) {
        const src = words[w + 3];
        words[w + 3] = words[w + 4];
        words[w + 4] = src;
      } else {
        for (let k = 2; k < 6; k++) {
          const t = words[w + k];
          words[w + k] = words[w + k + 4];
          words[w + k + 4] = t;
        }
      }
    }
    stats.batches++;
    dev.writeBatch(batch);
  };
}

/** Waits for exit AND the end of stdout: 'exit' can come before the last output has been read. */
async function finished(spawned) {
  const code = await spawned.exited;
  const out = spawned.child.stdout;
  if (out && !out.readableEnded) await new Promise((resolve) => out.once('end', resolve));
  return code;
}

const NAME = 'ztbench';

/** The echo loop under test in JS: returns probes for packets, bytes and CPU time. */
function startJsLoop(ns, mtu, io) {
  const dev = runInNetns(ns, () =>
    openTunSync({
      name: NAME,
      mtu,
      addresses: ['10.220.0.1/24'],
      // 'offload': the addon with IFF_VNET_HDR + TUN_F_CSUM + TSO (super-packets both ways).
      io: io === 'offload' ? 'native' : io,
      offload: io === 'offload',
      batchSize: Number(only('--batch')) || undefined,
      batchesPerWake: Number(only('--wake')) || undefined,
    }),
  );
  const stats = { batches: 0 };
  const errors = [];
  dev.onError((e) => errors.push(e.message));
  dev.onBatch(reflector(dev, stats));
  return {
    sample() {
      const c = dev.counters;
      const cpu = process.cpuUsage();
      return { packets: c.rxPackets, bytes: c.rxBytes, cpuUs: cpu.user + cpu.system, batches: stats.batches };
    },
    notes() {
      const c = dev.counters;
      return [
        c.txDropped ? `txDropped ${c.txDropped}` : '',
        c.rxDropped ? `rxDropped ${c.rxDropped}` : '',
        errors.length ? `errors: ${errors.join('; ')}` : '',
      ].filter(Boolean);
    },
    close: () => dev.close(),
  };
}

let referenceBinary;
function compileReference() {
  if (referenceBinary !== undefined) return referenceBinary;
  mkdirSync(join(root, 'build'), { recursive: true });
  const out = join(root, 'build', 'echo-reference');
  const r = spawnSync('cc', ['-O2', '-o', out, join(root, 'bench', 'echo-reference.c')], {
    encoding: 'utf8',
  });
  referenceBinary = r.status === 0 ? out : null;
  if (!referenceBinary)
    console.log(`[skip] C reference loops: cc failed: ${(r.stderr ?? r.error ?? '').toString().trim()}`);
  return referenceBinary;
}

/** The same loop in C (bench/echo-reference.c); packets come from the kernel's link statistics. */
async function startCLoop(ns, mtu, mode) {
  const proc = ns.spawn(compileReference(), [NAME, mode]);
  await waitFor(
    `echo-reference ${mode} ready`,
    () => proc.output().includes('ready') || proc.child.exitCode !== null,
  );
  if (!proc.output().includes('ready')) throw new Error(`echo-reference: ${proc.output()}`);
  ns.ip('link', 'set', 'dev', NAME, 'mtu', String(mtu));
  ns.ip('addr', 'add', '10.220.0.1/24', 'dev', NAME);
  ns.ip('link', 'set', 'dev', NAME, 'up');
  const ticks = () => {
    const fields = readFileSync(`/proc/${proc.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // utime + stime, 100 Hz ticks → µs
  };
  return {
    sample() {
      const [link] = ns.ipJson('-s', 'link', 'show', 'dev', NAME);
      // The TUN's "tx" is what the kernel handed to the reader.
      return { packets: link.stats64.tx.packets, bytes: link.stats64.tx.bytes, cpuUs: ticks(), batches: 0 };
    },
    notes: () => [],
    close: async () => {
      await proc.stop(1000);
    },
  };
}

async function runCase(ns, { mtu, io, proto, port }) {
  const loop = io.startsWith('c-') ? await startCLoop(ns, mtu, io.slice(2)) : startJsLoop(ns, mtu, io);
  const server = ns.spawn('iperf3', ['-s', '-1', '-p', String(port), '-B', '10.220.0.1']);
  try {
    await waitForPort(ns.name, port);
    const clientArgs = ['-c', '10.220.0.2', '-p', String(port), '-t', String(seconds), '-J'];
    // TCP: skip the first second (slow start). UDP: flood at full speed with datagrams of MTU size.
    if (proto === 'tcp') clientArgs.push('-O', '1');
    else clientArgs.push('-u', '-b', '0', '-l', String(Math.min(mtu, 65535) - 28));
    const s0 = loop.sample();
    const t0 = process.hrtime.bigint();
    const client = ns.spawn('iperf3', clientArgs);
    const code = await finished(client);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    const s1 = loop.sample();
    const text = client.output(); // iperf3 may print a warning line before its JSON
    let report;
    try {
      report = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1));
    } catch {
      throw new Error(`iperf3 exited ${code} without a JSON report: "${text.slice(-400)}"`);
    }
    if (report.error || code !== 0) throw new Error(`iperf3 exited ${code}: ${report.error}`);
    const received = report.end.sum_received ?? report.end.sum; // receiver side
    const packets = s1.packets - s0.packets;
    const bytes = s1.bytes - s0.bytes;
    const cpuUs = s1.cpuUs - s0.cpuUs;
    return {
      mtu,
      io,
      proto,
      goodput: received.bits_per_second / 1e9,
      loss: proto === 'udp' ? (received.lost_percent ?? report.end.sum.lost_percent) : undefined,
      pps: packets / elapsed,
      deviceGbps: (bytes * 8) / elapsed / 1e9,
      avgSize: bytes / Math.max(packets, 1),
      cpuUsPerPacket: cpuUs / Math.max(packets, 1),
      cpuShare: cpuUs / 1e6 / elapsed,
      packetsPerBatch: s1.batches > s0.batches ? packets / (s1.batches - s0.batches) : undefined,
      notes: loop.notes(),
    };
  } finally {
    await server.stop(1000);
    await loop.close();
  }
}

const fmt = (n, digits = 2) => n.toFixed(digits);
const label = {
  native: 'addon',
  offload: 'addon+TSO',
  threadpool: 'fs.read',
  'c-plain': 'C ref',
  'c-offload': 'C+GSO',
};

const ns = createNetns('bnch');
const results = [];
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
try {
  const mtus = quick ? [1500, 65535] : [1500, 9000, 65535];
  const cases = [];
  const withC = compileReference() !== null;
  for (const mtu of mtus) {
    for (const io of ['native', 'threadpool']) cases.push({ mtu, io, proto: 'tcp' });
    if (mtu !== 9000) cases.push({ mtu, io: 'offload', proto: 'tcp' });
    if (withC) cases.push({ mtu, io: 'c-plain', proto: 'tcp' });
    if (withC && mtu !== 9000) cases.push({ mtu, io: 'c-offload', proto: 'tcp' });
  }
  for (const io of ['native', 'threadpool', ...(withC ? ['c-plain'] : [])])
    cases.push({ mtu: 1500, io, proto: 'udp' });
  const selected = cases.filter(
    (c) =>
      (!only('--mtu') || String(c.mtu) === only('--mtu')) &&
      (!only('--io') || c.io === only('--io')) &&
      (!only('--proto') || c.proto === only('--proto')),
  );
  let port = 5301;
  for (const c of selected) {
    let r;
    try {
      r = await runCase(ns, { ...c, port: port++ });
    } catch (err) {
      console.log(`${c.proto.toUpperCase()} mtu ${c.mtu} ${c.io}: FAILED: ${err.message}`);
      process.exitCode = 1;
      continue;
    }
    results.push(r);
    console.log(
      `${r.proto.toUpperCase()} mtu ${String(r.mtu).padStart(5)} ${label[r.io].padEnd(9)} ` +
        `iperf3 ${fmt(r.goodput)} Gbit/s${r.loss !== undefined ? ` (loss ${fmt(r.loss, 1)}%)` : ''} | ` +
        `device ${fmt(r.pps / 1e3, 1)} kpkt/s, ${fmt(r.deviceGbps)} Gbit/s each way, avg ${Math.round(r.avgSize)} B` +
        `${r.packetsPerBatch !== undefined ? `, ${fmt(r.packetsPerBatch, 1)} pkt/batch` : ''} | ` +
        `CPU ${fmt(r.cpuUsPerPacket)} µs/pkt (${fmt(r.cpuShare * 100, 0)}% of a core) ${r.notes.join(' ')}`,
    );
  }
} finally {
  await ns.dispose();
}

console.log(`\nload average at start: ${load}; ${seconds} s per case`);
console.log(
  '| proto | MTU | loop | iperf3 goodput Gbit/s | device packets/s (each way) | device Gbit/s (each way) | CPU µs/packet |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(
    `| ${r.proto.toUpperCase()} | ${r.mtu} | ${label[r.io]} | ${fmt(r.goodput)}${r.loss !== undefined ? ` (loss ${fmt(r.loss, 0)}%)` : ''} | ` +
      `${Math.round(r.pps).toLocaleString('en-US')} | ${fmt(r.deviceGbps)} | ${fmt(r.cpuUsPerPacket)} |`,
  );
}
