// Echo-loop benchmark for @ztun/tun-linux: kernel → TUN → JS → TUN, with the addon and with the fs.read
// baseline, at several MTUs, in one run.
//
// The loop: a TUN in a private namespace holds 10.220.0.1/24. JS reflects every packet sent into the TUN by
// swapping its source and destination addresses (checksums are sums, so they stay valid). A connection from
// 10.220.0.1 to 10.220.0.2:P therefore comes back as 10.220.0.2 → 10.220.0.1:P, reaches the iperf3 server on
// the same namespace, and the server's answers take the same path back: real iperf3 TCP and UDP flows whose
// every packet crosses the device twice (read, then written), with no userspace peer but the code under test.
// TCP measures the throughput the device sustains (TCP backs off to whatever the JS loop drains); UDP at full
// offered load measures its packet rate. The node process's own CPU time per packet is printed too: it is
// the device's cost, independent of how busy the machine is.
//
// Usage: pnpm bench [-- --seconds 4 --quick --mtu 1500 --io native --proto tcp --batch 64 --wake 4]    (root, /dev/net/tun, iproute2, iperf3)
import { createNetns, netnsSkipReason, runInNetns, waitForPort } from '@ztun/testkit';
import { openTunSync } from '../dist/index.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1]) || 4;
const quick = args.includes('--quick');
const only = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

const reason = netnsSkipReason();
if (reason) {
  console.log(`[skip] tun-linux bench: ${reason}`);
  process.exit(0);
}

/** Reflects every IPv4/IPv6 packet of a batch in place (address swap) and writes the batch back. */
function reflector(dev) {
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
      const off = offsets[i];
      if (off & 3) throw new Error('unaligned slot');
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

function fmt(n, digits = 2) {
  return n.toFixed(digits);
}

async function runCase(ns, { mtu, io, proto, port }) {
  const dev = runInNetns(ns, () =>
    openTunSync({
      name: 'ztbench',
      mtu,
      addresses: ['10.220.0.1/24'],
      io,
      batchSize: Number(only('--batch')) || undefined,
      batchesPerWake: Number(only('--wake')) || undefined,
    }),
  );
  const errors = [];
  dev.onError((e) => errors.push(e.message));
  dev.onBatch(reflector(dev));
  let batches = 0;
  const origWrite = dev.writeBatch.bind(dev);
  dev.writeBatch = (b) => {
    batches++;
    origWrite(b);
  };
  const server = ns.spawn('iperf3', ['-s', '-1', '-p', String(port), '-B', '10.220.0.1']);
  try {
    await waitForPort(ns.name, port);
    const clientArgs = ['-c', '10.220.0.2', '-p', String(port), '-t', String(seconds), '-J'];
    // TCP: skip the first second (slow start). UDP: flood at full speed with datagrams of MTU size.
    if (proto === 'tcp') clientArgs.push('-O', '1');
    else clientArgs.push('-u', '-b', '0', '-l', String(Math.min(mtu, 65535) - 28));
    const c0 = { ...dev.counters.toJSON() };
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const client = ns.spawn('iperf3', clientArgs);
    const code = await finished(client);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const c1 = dev.counters.toJSON();
    if (code !== 0) throw new Error(`iperf3 client exited ${code}: ${client.output().slice(-400)}`);
    const text = client.output(); // iperf3 may print a warning line before its JSON
    let report;
    try {
      report = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1));
    } catch {
      throw new Error(
        `iperf3 exited ${code} without a JSON report: "${text.slice(-400)}" server: "${server.output().slice(-300)}"`,
      );
    }
    if (report.error) throw new Error(`iperf3: ${report.error}`);
    const end = report.end;
    let goodput;
    let loss;
    if (proto === 'tcp') {
      goodput = end.sum_received.bits_per_second / 1e9;
    } else {
      const received = end.sum_received ?? end.sum; // receiver side: lost datagrams excluded
      goodput = received.bits_per_second / 1e9;
      loss = received.lost_percent ?? end.sum.lost_percent;
    }
    const rx = c1.rxPackets - c0.rxPackets;
    const rxBytes = c1.rxBytes - c0.rxBytes;
    const cpuUs = (cpu.user + cpu.system) / Math.max(rx, 1);
    return {
      mtu,
      io,
      proto,
      goodput,
      loss,
      pps: rx / elapsed,
      deviceGbps: (rxBytes * 8) / elapsed / 1e9,
      avgSize: rxBytes / Math.max(rx, 1),
      cpuUsPerPacket: cpuUs,
      cpuShare: (cpu.user + cpu.system) / 1e6 / elapsed,
      txDropped: c1.txDropped - c0.txDropped,
      rxDropped: c1.rxDropped - c0.rxDropped,
      packetsPerBatch: batches ? rx / batches : 0,
      errors,
    };
  } finally {
    await server.stop(1000);
    await dev.close();
  }
}

const ns = createNetns('bnch');
const results = [];
try {
  const mtus = quick ? [1500, 65535] : [1500, 9000, 65535];
  let port = 5301;
  const cases = [];
  for (const mtu of mtus) for (const io of ['native', 'threadpool']) cases.push({ mtu, io, proto: 'tcp' });
  for (const io of ['native', 'threadpool']) cases.push({ mtu: 1500, io, proto: 'udp' });
  const selected = cases.filter(
    (c) =>
      (!only('--mtu') || String(c.mtu) === only('--mtu')) &&
      (!only('--io') || c.io === only('--io')) &&
      (!only('--proto') || c.proto === only('--proto')),
  );
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
      `${r.proto.toUpperCase()} mtu ${String(r.mtu).padStart(5)} ${r.io.padEnd(10)} ` +
        `iperf3 ${fmt(r.goodput)} Gbit/s${r.loss !== undefined ? ` (loss ${fmt(r.loss, 1)}%)` : ''} | ` +
        `device ${fmt(r.pps / 1e3, 1)} kpkt/s each way, ${fmt(r.deviceGbps)} Gbit/s each way, avg ${Math.round(r.avgSize)} B, ` +
        `${fmt(r.packetsPerBatch, 1)} pkt/batch | node CPU ${fmt(r.cpuUsPerPacket)} µs/pkt (${fmt(r.cpuShare * 100, 0)}% of a core)` +
        `${r.txDropped ? ` txDropped ${r.txDropped}` : ''}${r.rxDropped ? ` rxDropped ${r.rxDropped}` : ''}` +
        `${r.errors.length ? ` errors: ${r.errors.join('; ')}` : ''}`,
    );
  }
} finally {
  await ns.dispose();
}

console.log(
  '\n| proto | MTU | I/O | iperf3 goodput (Gbit/s) | device packets/s (each way) | device Gbit/s (each way) | node CPU µs/packet |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(
    `| ${r.proto.toUpperCase()} | ${r.mtu} | ${r.io} | ${fmt(r.goodput)}${r.loss !== undefined ? ` (loss ${fmt(r.loss, 1)}%)` : ''} | ` +
      `${Math.round(r.pps).toLocaleString('en-US')} | ${fmt(r.deviceGbps)} | ${fmt(r.cpuUsPerPacket)} |`,
  );
}
