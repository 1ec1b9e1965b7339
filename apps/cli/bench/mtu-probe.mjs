#!/usr/bin/env node
// Diagnostic for issue 17 item 3 (one TCP stream at TUN MTU 1500 vs 65520), as root:
//   node apps/cli/bench/mtu-probe.mjs [--pairs N] [--time S] [--reverse] [--mtus 65520,1500]
//        [--iperf-args "-C cubic"] [--pcap] [--perf] [--ns-prefix P]
// Alternates `ztun --proxy direct` legs at each MTU (the order flips every pair) in one topology and prints per
// leg: Gbit/s; every thread's on-CPU time per MB through the TUN (ztun's event loop and splice relay, the
// iperf3 client and server; /proc/PID/task/TID/schedstat: run time, run-queue wait, so "asleep" is the rest);
// TUN packets per MB; and `ss -ti` of the client's stream mid-run (its congestion control's cwnd, pacing and
// how long it was limited by its send buffer). --pcap: 1 s of tcpdump headers on ztun0 mid-run, split into
// data packets and pure ACKs per flow. --perf: `perf record -g -t` of ztun's event-loop thread for 3 s
// mid-run, printed as inclusive samples per MB for the kernel paths that differ (TUN write, the TCP
// receive and ACK work inside it, the relay thread's wake-up, TUN read, JS). Compare within a run.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTopology, run, SERVER, sleep, waitUntil } from '../scripts/topology.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const seconds = Number(opt('time', '5'));
const pairs = Number(opt('pairs', '3'));
const mtus = opt('mtus', '65520,1500').split(',');
const iperfArgs = [
  ...(argv.includes('--reverse') ? ['-R'] : []),
  ...opt('iperf-args', '').split(' ').filter(Boolean),
];
const topo = createTopology('mp', { nsPrefix: opt('ns-prefix', undefined) });

/** Per thread of `pid`: on-CPU and run-queue nanoseconds and timeslices (Documentation/scheduler/sched-stats.rst). */
function schedstat(pid, label) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const [runNs, waitNs, slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')
        .split(' ')
        .map(Number);
      const role = tid === String(pid) && comm === 'node' ? 'event loop' : comm;
      out[`${label} ${role}/${tid}`] = { runNs, waitNs, slices };
    }
  } catch {}
  return out;
}

const tunStats = () =>
  JSON.parse(topo.exec(topo.client, 'ip', ['-s', '-j', 'link', 'show', 'ztun0']).stdout)[0].stats64;
const tunTx = () => tunStats().tx;

function clientSocket() {
  const ss = topo.exec(topo.client, 'ss', ['-tiH', 'state', 'established']).stdout;
  // The iperf3 client's data stream: from the TUN's address to the server's port, the one with bytes.
  const block = ss
    .split(/\n(?=\S)/)
    .find((b) => /198\.18\.\S+\s+\S+:5201\b/.test(b) && /bytes_acked:\d{7,}/.test(b));
  if (!block) return '';
  const keys = ['mss', 'cwnd', 'rtt', 'pacing_rate', 'delivery_rate', 'unacked', 'notsent', 'sndbuf_limited'];
  const cc = /\b(bbr|cubic|reno)\b/.exec(block)?.[1] ?? '';
  return `${cc} ${keys.map((k) => new RegExp(`\\b${k}[: ](\\S+)`).exec(block)?.[0] ?? '').join(' ')}`;
}

/** tcpdump headers → per flow: packets, data packets, MB, pure ACKs. */
function pcapSummary(file) {
  const r = run('tcpdump', ['-r', file, '-nn', '-q'], { allowFail: true });
  const flows = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /IP (\S+) > (\S+): tcp (\d+)/.exec(line);
    if (!m) continue;
    const key = `${m[1]} > ${m[2].replace(/:$/, '')}`;
    const f = flows.get(key) ?? { packets: 0, data: 0, bytes: 0 };
    f.packets += 1;
    if (Number(m[3]) > 0) f.data += 1;
    f.bytes += Number(m[3]);
    flows.set(key, f);
  }
  return [...flows]
    .filter(([, f]) => f.packets > 50)
    .map(
      ([k, f]) =>
        `    ${k}: ${f.data} data (${(f.bytes / 1e6).toFixed(0)} MB), ${f.packets - f.data} pure ACKs`,
    )
    .join('\n');
}

const PERF_SYMBOLS = [
  'tun_get_user',
  'tcp_rcv_established',
  'tcp_ack',
  'sock_def_readable',
  'tun_chr_read_iter',
  '_copy_from_iter',
  '_copy_to_iter',
  'Builtins_JSEntry',
  'pvm_irq_enable',
];
function perfSummary(file, mb) {
  const rep = run('perf', ['report', '-i', file, '--stdio', '--children', '--sort', 'sym', '-g', 'none'], {
    allowFail: true,
  }).stdout;
  const n = run(
    'perf',
    ['report', '-i', file, '--stdio', '--no-children', '-n', '--sort', 'comm', '-g', 'none'],
    {
      allowFail: true,
    },
  ).stdout;
  const total = [...n.matchAll(/^\s*[\d.]+%\s+(\d+)\s/gm)].reduce((a, m) => a + Number(m[1]), 0);
  const parts = PERF_SYMBOLS.map((sym) => {
    const m = new RegExp(`^\\s*([\\d.]+)%\\s+[\\d.]+%\\s+\\[.\\]\\s+${sym}\\s*$`, 'm').exec(rep);
    return `${sym} ${m ? (((Number(m[1]) / 100) * total) / mb).toFixed(2) : '0'}`;
  });
  return `  perf (event loop, samples per MB at 8 kHz, inclusive): total ${(total / mb).toFixed(2)}; ${parts.join(', ')}`;
}

try {
  const server = topo.start(topo.server, 'iperf3', ['-s', '-B', SERVER]);
  await waitUntil('iperf3', () => topo.listening(topo.server, 5201));
  const rates = {};
  for (let p = 0; p < pairs; p++) {
    for (const leg of p % 2 ? [...mtus].reverse() : mtus) {
      // A leg is an MTU, optionally with `+NAME=VALUE` environment for ztun (experiments).
      const [mtu, ...env] = leg.split('+');
      for (const kv of env) process.env[kv.split('=')[0]] = kv.split('=')[1];
      const z = await topo.startZtun([
        '--auto-route',
        '--stats-interval',
        '0',
        '--proxy',
        'direct',
        '--mtu',
        mtu,
      ]);
      const before = { ...schedstat(z.child.pid, 'ztun'), ...schedstat(server.child.pid, 'server') };
      const { tx: tx0, rx: rx0 } = tunStats();
      const t0 = process.hrtime.bigint();
      const ip = topo.start(topo.client, 'iperf3', ['-c', SERVER, '-t', String(seconds), '-J', ...iperfArgs]);
      await sleep(1500);
      let client = {};
      const poll = setInterval(() => {
        client = schedstat(ip.child.pid, 'client');
      }, 100);
      const extra = [];
      if (argv.includes('--pcap')) {
        const file = join(topo.tmp, `cap-${mtu}-${p}.pcap`);
        topo.exec(
          topo.client,
          'timeout',
          ['1', 'tcpdump', '-q', '-i', 'ztun0', '-s', '96', '-B', '65536', '-w', file],
          {
            allowFail: true,
          },
        );
        extra.push(`  tcpdump on ztun0, 1 s:\n${pcapSummary(file)}`);
      }
      if (argv.includes('--perf')) {
        const file = join(topo.tmp, `perf-${mtu}-${p}.data`);
        const b0 = tunTx().bytes;
        spawnSync('perf', [
          'record',
          '-q',
          '-F',
          '8000',
          '-g',
          '-t',
          String(z.child.pid),
          '-o',
          file,
          '--',
          'sleep',
          '3',
        ]);
        extra.push(perfSummary(file, (tunTx().bytes - b0) / 1e6));
      }
      await sleep(Math.max(0, (seconds / 2) * 1000 - 1500 - (extra.length ? 4000 : 0)));
      const sock = clientSocket();
      await ip.exited;
      clearInterval(poll);
      const wallNs = Number(process.hrtime.bigint() - t0);
      const after = { ...schedstat(z.child.pid, 'ztun'), ...schedstat(server.child.pid, 'server') };
      const { tx: tx1, rx: rx1 } = tunStats();
      await z.stop(10_000);
      for (const kv of env) delete process.env[kv.split('=')[0]];
      const gbps = JSON.parse(ip.output()).end.sum_received.bits_per_second / 1e9;
      rates[leg] = [...(rates[leg] ?? []), gbps];
      const mb = (tx1.bytes - tx0.bytes) / 1e6;
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      console.log(`\n=== MTU ${leg}: ${gbps.toFixed(2)} Gbit/s (load ${load})`);
      console.log(
        `  TUN: ${((tx1.packets - tx0.packets) / mb).toFixed(1)} packets per MB read by ztun, ${((rx1.packets - rx0.packets) / mb).toFixed(1)} written, ${tx1.dropped - tx0.dropped} tx drops`,
      );
      let total = 0;
      for (const [k, v] of Object.entries({ ...after, ...client })) {
        const o = before[k] ?? { runNs: 0, waitNs: 0, slices: 0 };
        const runNs = v.runNs - o.runNs;
        const waitNs = v.waitNs - o.waitNs;
        total += runNs;
        if (runNs < wallNs * 0.02) continue;
        const pct = (x) => `${Math.round((x / wallNs) * 100)}%`;
        console.log(
          `  ${k}: ${(runNs / 1e6 / mb).toFixed(3)} ms CPU per MB; on CPU ${pct(runNs)}, waiting for a CPU ${pct(waitNs)}, asleep ${pct(wallNs - runNs - waitNs)}, ${((v.slices - o.slices) / mb).toFixed(1)} times on a CPU per MB`,
        );
      }
      console.log(`  all of them: ${(total / 1e6 / mb).toFixed(3)} ms CPU per MB`);
      console.log(`  client socket mid-run: ${sock}`);
      for (const e of extra) console.log(e);
    }
  }
  console.log('');
  for (const [m, v] of Object.entries(rates))
    console.log(`MTU ${m}: ${v.map((x) => x.toFixed(2)).join(' ')} Gbit/s`);
  const [a, b] = [rates[mtus[0]], rates[mtus[1]]];
  if (a && b)
    console.log(`${mtus[1]} / ${mtus[0]} per pair: ${b.map((x, i) => (x / a[i]).toFixed(2)).join(' ')}`);
  await server.stop();
} finally {
  topo.cleanup();
}
