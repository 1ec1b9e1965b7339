// UDP through the tunnel for `bench:tunnel` (issue 17 items 4, 7): iperf3 -u at an offered rate, one
// stream, client → server (or -R), with no tunnel and through ztun: delivered Mbit/s and loss. Around each
// leg: the receiving namespace's RcvbufErrors (/proc/net/snmp, "Udp:" line: datagrams the kernel dropped
// because the receiving socket's buffer was full, udp(7)), ztun's CPU, the receiving and sending iperf3's
// CPU, and the whole machine's busy share (/proc/stat). The headline table uses iperf3's default socket
// buffers; a second table repeats every leg with `-w WINDOW` (SO_SNDBUF/SO_RCVBUF on both iperf3 ends, the
// no-tunnel and ztun legs alike) to tell receiver buffering apart from ztun's throughput.
import { readFileSync } from 'node:fs';
import { SERVER } from '../scripts/topology.mjs';

const CLK_TCK = 100;

/** The "Udp:" counters of a namespace (/proc/net/snmp read from inside it), by name. */
function udpSnmp(topo, ns) {
  const text = topo.exec(ns, 'cat', ['/proc/net/snmp']).stdout;
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Udp: '));
  const n = names.split(/\s+/).slice(1);
  const v = values.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(n.map((k, i) => [k, v[i]]));
}

/** user + sys seconds of a process (/proc/PID/stat fields 14, 15), 0 when it is gone. */
function procCpu(pid) {
  if (pid === undefined) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The machine's busy and total jiffies (/proc/stat "cpu" line: everything but idle and iowait is busy). */
function machineJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

/**
 * iperf3 -u -b RATE for `seconds`: { offered, delivered (Mbit/s at the receiver), lossPct, rcvbufErrors (at
 * the receiver's namespace), cpu: { ztun, receiver, sender } (user + sys seconds per second), machine (busy
 * share of all cores) }. `window`: iperf3 -w for both ends' socket buffers. `serverPid`: the iperf3 server's.
 */
export function iperfUdp(topo, rate, seconds, reverse, { window, serverPid, ztunPid } = {}) {
  const args = [
    '-c',
    SERVER,
    '-u',
    '-b',
    rate,
    '-l',
    '1400',
    '-t',
    String(seconds),
    '-J',
    ...(window ? ['-w', window] : []),
    ...(reverse ? ['-R'] : []),
  ];
  const receiverNs = reverse ? topo.client : topo.server;
  const snmp0 = udpSnmp(topo, receiverNs);
  const server0 = procCpu(serverPid);
  const ztun0 = procCpu(ztunPid);
  const m0 = machineJiffies();
  const t0 = Date.now();
  // The client's CPU: sh's `times` prints its children's user and sys time after iperf3 exits (to stderr).
  const r = topo.exec(topo.client, 'sh', ['-c', 'iperf3 "$@"; s=$?; times >&2; exit $s', 'sh', ...args], {
    allowFail: true,
  });
  const wall = (Date.now() - t0) / 1000;
  const m1 = machineJiffies();
  const snmp1 = udpSnmp(topo, receiverNs);
  const j = JSON.parse(r.stdout || '{}');
  if (j.error) throw new Error(`iperf3 -u: ${j.error}`);
  const times = (r.stderr ?? '').trim().split('\n').at(-1) ?? '';
  const secs = [...times.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  const clientCpu = secs.length === 2 ? (secs[0] + secs[1]) / wall : Number.NaN;
  const serverCpu = (procCpu(serverPid) - server0) / wall;
  const sum = j.end.sum_received ?? j.end.sum;
  return {
    rate,
    window,
    delivered: sum.bits_per_second / 1e6,
    lossPct: sum.lost_percent ?? j.end.sum.lost_percent,
    rcvbufErrors: snmp1.RcvbufErrors - snmp0.RcvbufErrors,
    cpu: {
      ztun: ztunPid === undefined ? undefined : (procCpu(ztunPid) - ztun0) / wall,
      receiver: reverse ? clientCpu : serverCpu,
      sender: reverse ? serverCpu : clientCpu,
    },
    machine: (m1.busy - m0.busy) / (m1.total - m0.total),
  };
}

const LEGS = [
  { label: 'ztun --proxy direct (batch path, UDP GSO sends)', env: {} },
  { label: 'ztun --proxy direct, ZTUN_UDP_GSO=0 (batch path, no GSO)', env: { ZTUN_UDP_GSO: '0' } },
  { label: 'ztun --proxy direct, ZTUN_UDP_BATCH=0 (per datagram)', env: { ZTUN_UDP_BATCH: '0' } },
];
const LEG_ENV = ['ZTUN_UDP_BATCH', 'ZTUN_UDP_GSO'];

/**
 * Rows for each direction (client → server, then -R) and offered rate: no tunnel, ztun --proxy direct with
 * the batch UDP path (the default on Linux), the same without UDP GSO (ZTUN_UDP_GSO=0), and with
 * ZTUN_UDP_BATCH=0 (Node's dgram, one call per datagram).
 * `windows`: [undefined] for iperf3's default buffers; add e.g. '2M' for the extra larger-buffer table.
 */
export async function udpRows(
  topo,
  { seconds, startZtun, rates = ['500M', '1G'], windows = [undefined], serverPid },
) {
  const rows = [];
  for (const window of windows)
    for (const reverse of [false, true])
      for (const rate of rates)
        rows.push({
          label: 'no tunnel (veth)',
          reverse,
          ...iperfUdp(topo, rate, seconds, reverse, { window, serverPid }),
        });
  for (const leg of LEGS) {
    // The environment is inherited through `ip netns exec` by the ztun process started next.
    for (const k of LEG_ENV) delete process.env[k];
    Object.assign(process.env, leg.env);
    const z = await startZtun(['--proxy', 'direct']);
    for (const k of LEG_ENV) delete process.env[k];
    try {
      for (const window of windows)
        for (const reverse of [false, true])
          for (const rate of rates)
            rows.push({
              label: leg.label,
              reverse,
              ...iperfUdp(topo, rate, seconds, reverse, { window, serverPid, ztunPid: z.child.pid }),
            });
    } finally {
      await z.stop(10_000);
    }
  }
  for (const window of windows) printTable(rows, window);
  return rows;
}

function printTable(rows, window) {
  console.log(
    window === undefined
      ? '\n| UDP iperf3 -u, 1400 B datagrams, default socket buffers | direction | offered | delivered Mbit/s | loss | vs no tunnel | RcvbufErrors at the receiver | ztun CPU s/s | receiver / sender iperf3 CPU s/s | machine busy |'
      : `\n| EXTRA (not the headline): iperf3 -u -w ${window} on both ends, every leg | direction | offered | delivered Mbit/s | loss | vs no tunnel | RcvbufErrors at the receiver | ztun CPU s/s | receiver / sender iperf3 CPU s/s | machine busy |`,
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const mine = rows.filter((r) => r.window === window);
  for (const reverse of [false, true])
    for (const r of mine.filter((x) => x.reverse === reverse)) {
      const base = mine.find(
        (b) => b.label.startsWith('no tunnel') && b.rate === r.rate && b.reverse === reverse,
      );
      const z = r.cpu.ztun === undefined ? '' : r.cpu.ztun.toFixed(2);
      console.log(
        `| ${r.label} | ${reverse ? 'server → client (-R)' : 'client → server'} | ${r.rate} | ${r.delivered.toFixed(0)} | ${r.lossPct.toFixed(1)} % | ${(r.delivered / base.delivered).toFixed(2)} | ${r.rcvbufErrors} | ${z} | ${r.cpu.receiver.toFixed(2)} / ${r.cpu.sender.toFixed(2)} | ${(r.machine * 100).toFixed(0)} % |`,
      );
    }
}
