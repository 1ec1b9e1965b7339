#!/usr/bin/env node
// `pnpm bench:tunnel` (root): iperf3 throughput in one run, in namespaces of its own —
//   1. no tunnel: client → veth → server (the kernel path alone)
//   2. ztun --auto-route --proxy direct (TCP relayed with splice(2) over an offload TUN, the defaults), and
//      with --no-offload and --no-splice
//   3. ztun --auto-route --proxy socks5:// to danted, both ways too
// Prints Gbit/s, ratios to the no-tunnel figure, and ztun's CPU use (user/sys seconds per second of
// transfer: ~1.0 means its one JS thread was saturated). Options: --time S (default 5), --mtu N (ztun's MTU
// for all legs), --no-mtu-compare (skip the extra direct leg at MTU 1500), --perf (perf-record ztun during
// the direct leg and print where its CPU time goes), --no-splice-compare (skip the --no-splice legs),
// --no-offload-compare (skip the direct leg with --no-offload, i.e. a plain TUN without checksum offload),
// --reverse (iperf3 -R: the server sends, i.e. downloads through the tunnel), --veth-mtu N (the MTU of the
// client–server veth pair; default 1500). Each ztun leg also reports the TUN's tx drops (the kernel's count of
// packets it could not queue for ztun to read: the link's tx_dropped), and the MTU compare prints the ratio
// of the MTU 1500 leg to the direct leg at ztun's MTU in the same run (TSO: issue 17 item 3).
// Then UDP (bench/udp.mjs; --no-udp skips it): iperf3 -u at 500 Mbit/s and 1 Gbit/s offered, both directions,
// no tunnel and ztun direct with the batch UDP path and without it (ZTUN_UDP_BATCH=0), delivered and loss,
// RcvbufErrors at the receiver and CPU; then the same legs with iperf3 -w --udp-window (default 2M; none skips)
// as an extra table; --udp-rates A,B the offered rates (default 500M,1G). --only-udp: only the UDP part (no
// TCP, scale or ICMP legs).
// Then the scale part (bench/scale.mjs, issue 17): connections/s with p50/p99 and request/response latency
// (no tunnel, the SOCKS hop alone, ztun direct and socks5), N held idle connections (fds, RSS, mass close),
// RSS across bursts. Options: --no-scale (skip it), --held N (default 9000; 0 skips), --bursts N (default 4;
// 0 skips), --scale-time S (seconds per connection-rate leg and burst; default --time), --only-held (only the
// held connections and the bursts: no throughput, UDP or connection-rate legs), --ns-prefix P (the namespaces'
// two-letter prefix; default ZTUN_TEST_NETNS_PREFIX, else zt), --only-rate (only the connections/s and
// request/response legs), --rate-ab NAME=VALUE (with --only-rate: each ztun leg run twice, alternating, without
// and with that environment variable, --rate-repeat N times (default 1): an A/B in one run).
// ICMP echo (bench/icmp.mjs; --no-icmp skips it): ping through the TUN, --icmp-count N echoes (default 1000)
// 10 ms apart, p50/p99 vs no tunnel and vs a C TUN responder; --only-icmp runs only that; --icmp-fifo runs the
// responders (C, Node, ztun) at SCHED_FIFO priority 1.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  createTopology,
  has,
  preflight,
  run,
  SERVER,
  SOCKS,
  sleep,
  waitUntil,
} from '../scripts/topology.mjs';
import { icmpRows } from './icmp.mjs';
import { scaleSection } from './scale.mjs';
import { udpRows } from './udp.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const seconds = Number(opt('time', '5'));
const mtu = opt('mtu', undefined);
const mtuCompare = !argv.includes('--no-mtu-compare');
const wantPerf = argv.includes('--perf') && has('perf');
const spliceCompare = !argv.includes('--no-splice-compare');
const offloadCompare = !argv.includes('--no-offload-compare');
const reverse = argv.includes('--reverse');
const scale = !argv.includes('--no-scale');
const udp = !argv.includes('--no-udp');
const icmp = !argv.includes('--no-icmp');
const icmpCount = Number(opt('icmp-count', '1000'));
const heldCount = Number(opt('held', '9000'));
const burstCount = Number(opt('bursts', '4'));
const scaleSeconds = Number(opt('scale-time', String(seconds)));
const onlyHeld = argv.includes('--only-held');
const onlyRate = argv.includes('--only-rate');
const rateAb = opt('rate-ab', undefined);
const rateRepeat = Number(opt('rate-repeat', '1'));
const onlyIcmp = argv.includes('--only-icmp');
const icmpFifo = argv.includes('--icmp-fifo');
const onlyUdp = argv.includes('--only-udp');
const udpWindow = opt('udp-window', '2M');
// --udp-rates A,B: the offered rates of the UDP legs (default 500M,1G); a rate nothing is lost at compares
// ztun's CPU per datagram between legs.
const udpRates = opt('udp-rates', '500M,1G').split(',');

const problems = preflight();
if (!has('iperf3')) problems.push('needs iperf3 (apt-get install iperf3)');
if (problems.length) {
  console.error(`bench:tunnel: ${problems.join('; ')}`);
  process.exit(1);
}

const vethMtu = opt('veth-mtu', undefined);
const topo = createTopology('bnch', { vethMtu, nsPrefix: opt('ns-prefix', undefined) });
const CLK_TCK = 100;

function cpuSeconds(pid) {
  // /proc/PID/stat fields 14 and 15: utime and stime in clock ticks.
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // Voluntary context switches of all its threads (event loop, splice relay workers): how often it slept.
  let sleeps = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    sleeps += Number(/\bvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK, sleeps };
}

function iperf(extra = reverse ? ['-R'] : []) {
  const r = topo.exec(topo.client, 'iperf3', ['-c', SERVER, '-t', String(seconds), '-J', ...extra], {
    allowFail: true,
  });
  const j = JSON.parse(r.stdout || '{}');
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  return j.end.sum_received.bits_per_second / 1e9;
}

/** perf record of one process for `secs`; resolves with the report's top lines. */
function perfRecord(pid, secs) {
  const out = join(topo.tmp, `perf-${pid}.data`);
  const rec = spawn(
    'perf',
    ['record', '-q', '-g', '-p', String(pid), '-o', out, '--', 'sleep', String(secs)],
    {
      stdio: 'ignore',
    },
  );
  return new Promise((resolve) =>
    rec.once('exit', () => {
      const report = ['report', '-i', out, '--stdio', '--no-children', '--sort', 'dso,sym'];
      const r = run('perf', [...report, '--percent-limit', '1.5', '-g', 'none'], { allowFail: true });
      const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
      resolve(lines.slice(0, 30).join('\n'));
    }),
  );
}

/** The TUN's tx stats (IFLA_STATS64) in the client ns: `dropped` (packets the kernel could not queue for the
 *  reader), and `packets`/`bytes` (what ztun read). */
function tunTx() {
  const r = topo.exec(topo.client, 'ip', ['-s', '-j', 'link', 'show', 'ztun0'], { allowFail: true });
  const link = JSON.parse(r.stdout || '[]')[0];
  return link?.stats64?.tx;
}

/** On-CPU nanoseconds of ztun's event-loop thread (the main thread: tid = pid), from
 *  /proc/PID/task/PID/schedstat (Documentation/scheduler/sched-stats.rst: run time, run-queue wait, slices). */
function loopRunNs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

async function throughZtun(label, args, { profile = false, mtuOverride } = {}) {
  const m = mtuOverride ?? mtu;
  const z = await topo.startZtun([
    '--auto-route',
    '--stats-interval',
    '0',
    ...(m ? ['--mtu', m] : []),
    ...args,
  ]);
  try {
    const before = cpuSeconds(z.child.pid);
    const txBefore = tunTx();
    const loopBefore = loopRunNs(z.child.pid);
    const t0 = Date.now();
    const perf = profile ? perfRecord(z.child.pid, Math.max(1, seconds - 1)) : undefined;
    const gbps = iperf();
    const wall = (Date.now() - t0) / 1000;
    const after = cpuSeconds(z.child.pid);
    const txAfter = tunTx();
    const loopAfter = loopRunNs(z.child.pid);
    // Per MB ztun read from the TUN: the event-loop thread's CPU (the TUN reads, the NAT, the TUN writes and
    // the kernel TCP work that runs inside them) and the packets — figures a shared machine's load moves
    // far less than the rates.
    const mb = txBefore && txAfter ? (txAfter.bytes - txBefore.bytes) / 1e6 : undefined;
    if (perf) console.log(`\nperf: where ztun's CPU time went (${label})\n${await perf}\n`);
    return {
      label,
      gbps,
      user: (after.user - before.user) / wall,
      sys: (after.sys - before.sys) / wall,
      wakeups: (after.sleeps - before.sleeps) / wall,
      txDropped: txBefore && txAfter ? txAfter.dropped - txBefore.dropped : undefined,
      loopMsPerMB:
        mb && loopBefore !== undefined && loopAfter !== undefined
          ? (loopAfter - loopBefore) / 1e6 / mb
          : undefined,
      packetsPerMB: mb ? (txAfter.packets - txBefore.packets) / mb : undefined,
    };
  } finally {
    const code = await z.stop(10_000);
    if (code !== 0) console.error(`${label}: ztun exited with ${code}:\n${z.output()}`);
  }
}

let failed = false;
const scaleOptions = {
  seconds: scaleSeconds,
  held: heldCount,
  bursts: burstCount,
  startZtun: (args) =>
    topo.startZtun(['--auto-route', '--stats-interval', '0', ...(mtu ? ['--mtu', mtu] : []), ...args]),
  ...(has('danted') ? { socksUrl: `socks5://${SOCKS}:1080` } : {}),
};
const printLoad = () => {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `\nload average during the run: ${load} (${availableParallelism()} cores shared with other work: compare ratios)`,
  );
};
/** Runs one part of the bench alone (an --only-* flag), prints the load, cleans up and exits. */
async function runOnly(part) {
  try {
    await part();
    printLoad();
  } catch (err) {
    failed = true;
    console.error(`bench:tunnel failed: ${err.message}`);
  } finally {
    topo.cleanup();
  }
  process.exit(failed ? 1 : 0);
}
// Only the held connections and the bursts (issue 17 item 2), or only the connection-rate legs (item 6).
if (onlyHeld || onlyRate)
  await runOnly(() => scaleSection(topo, { ...scaleOptions, onlyHeld, onlyRate, rateAb, rateRepeat }));
// Only the ICMP echo rows (issue 17 item 6): no throughput, UDP or scale legs.
if (onlyIcmp)
  await runOnly(() =>
    icmpRows(topo, { count: icmpCount, startZtun: scaleOptions.startZtun, fifo: icmpFifo }),
  );
const udpSection = (server) =>
  udpRows(topo, {
    seconds,
    serverPid: server.child.pid,
    windows: udpWindow === 'none' ? [undefined] : [undefined, udpWindow],
    rates: udpRates,
    startZtun: (args) =>
      topo.startZtun(['--auto-route', '--stats-interval', '0', ...(mtu ? ['--mtu', mtu] : []), ...args]),
  });
let mtuRatio;
try {
  const server = topo.start(topo.server, 'iperf3', ['-s', '-B', SERVER]);
  await waitUntil('iperf3 server', () => topo.listening(topo.server, 5201));
  await sleep(200);
  if (onlyUdp) {
    await udpSection(server);
    await server.stop();
    printLoad();
    topo.cleanup();
    process.exit(0);
  }
  const rows = [];
  console.log(
    `iperf3 -t ${seconds}, one TCP stream ${reverse ? 'server → client (-R)' : 'client → server'}; ztun MTU ${mtu ?? 'default (65520)'}, veth MTU ${vethMtu ?? 1500}`,
  );
  rows.push({ label: 'no tunnel (veth)', gbps: iperf() });
  console.log(`  ${rows.at(-1).label}: ${rows.at(-1).gbps.toFixed(2)} Gbit/s`);
  rows.push(await throughZtun('ztun --proxy direct', ['--proxy', 'direct'], { profile: wantPerf }));
  console.log(`  ${rows.at(-1).label}: ${rows.at(-1).gbps.toFixed(2)} Gbit/s`);
  const direct = rows.at(-1);
  if (offloadCompare) {
    rows.push(await throughZtun('ztun --proxy direct --no-offload', ['--proxy', 'direct', '--no-offload']));
    console.log(`  ${rows.at(-1).label}: ${rows.at(-1).gbps.toFixed(2)} Gbit/s`);
  }
  if (spliceCompare) {
    rows.push(await throughZtun('ztun --proxy direct --no-splice', ['--proxy', 'direct', '--no-splice']));
    console.log(`  ${rows.at(-1).label}: ${rows.at(-1).gbps.toFixed(2)} Gbit/s`);
  }
  if (mtuCompare) {
    rows.push(
      await throughZtun('ztun --proxy direct --mtu 1500', ['--proxy', 'direct'], { mtuOverride: '1500' }),
    );
    const small = rows.at(-1);
    console.log(`  ${small.label}: ${small.gbps.toFixed(2)} Gbit/s`);
    // ztun's CPU seconds per Gbit moved: less sensitive to a shared machine's load than the rates.
    const fixed = (v, n) => (v === undefined ? '?' : v.toFixed(n));
    const cpuPerGbit = (r) => ((r.user + r.sys) / r.gbps).toFixed(3);
    mtuRatio =
      `MTU 1500 / MTU ${mtu ?? 65520} (direct, same run): ${(small.gbps / direct.gbps).toFixed(2)}; ` +
      `TUN tx drops ${direct.txDropped ?? '?'} at MTU ${mtu ?? 65520}, ${small.txDropped ?? '?'} at MTU 1500 ` +
      `(target ≥ 0.9, 0 drops); ztun CPU s per Gbit ${cpuPerGbit(direct)} at MTU ${mtu ?? 65520}, ` +
      `${cpuPerGbit(small)} at MTU 1500; event-loop thread CPU ms per MB ${fixed(direct.loopMsPerMB, 3)} / ` +
      `${fixed(small.loopMsPerMB, 3)}, TUN packets per MB ${fixed(direct.packetsPerMB, 1)} / ${fixed(small.packetsPerMB, 1)}`;
  }
  if (has('danted')) {
    await topo.startDanted(1080);
    rows.push(await throughZtun('ztun --proxy socks5 (danted)', ['--proxy', `socks5://${SOCKS}:1080`]));
    console.log(`  ${rows.at(-1).label}: ${rows.at(-1).gbps.toFixed(2)} Gbit/s`);
    if (spliceCompare) {
      rows.push(
        await throughZtun('ztun --proxy socks5 (danted) --no-splice', [
          '--proxy',
          `socks5://${SOCKS}:1080`,
          '--no-splice',
        ]),
      );
      console.log(`  ${rows.at(-1).label}: ${rows.at(-1).gbps.toFixed(2)} Gbit/s`);
    }
  } else {
    console.log('  socks5 skipped: danted is not installed');
  }
  if (udp) await udpSection(server);
  if (icmp) {
    await icmpRows(topo, {
      count: icmpCount,
      fifo: icmpFifo,
      startZtun: (args) =>
        topo.startZtun(['--auto-route', '--stats-interval', '0', ...(mtu ? ['--mtu', mtu] : []), ...args]),
    });
  }
  await server.stop();

  const base = rows[0].gbps;
  console.log(
    '\n| path | Gbit/s | vs no tunnel | ztun CPU user+sys (s per s) | ztun wake-ups per s | TUN tx drops |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const cpu = r.user === undefined ? '' : `${r.user.toFixed(2)} + ${r.sys.toFixed(2)}`;
    const wakeups = r.wakeups === undefined ? '' : `${Math.round(r.wakeups / 1000)}k`;
    console.log(
      `| ${r.label} | ${r.gbps.toFixed(2)} | ${(r.gbps / base).toFixed(2)} | ${cpu} | ${wakeups} | ${r.txDropped ?? ''} |`,
    );
  }
  if (mtuRatio) console.log(`\n${mtuRatio}`);
  if (scale) {
    await scaleSection(topo, scaleOptions);
  }
  printLoad();
} catch (err) {
  failed = true;
  console.error(`bench:tunnel failed: ${err.message}`);
} finally {
  topo.cleanup();
}
process.exit(failed ? 1 : 0);
