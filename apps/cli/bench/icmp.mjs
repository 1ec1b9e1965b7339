// ICMP echo through the TUN for `bench:tunnel` (issue 17 item 6): ping(8) from the client namespace to the
// server's address, COUNT echoes at 10 ms intervals, with no tunnel (the server's kernel answers across the
// veth) and through ztun (--icmp reply, the default: the stack answers in place, icmp-echo.ts). p50/p99/max
// of the per-echo round trips ping prints (`time=… ms`) after 100 uncounted warm-up echoes, and the lost
// count. A reference row: a Node UDP echo server in the server namespace, no tunnel (scripts/udp-echo.mjs) —
// the round trip of a userspace responder, which is what an echo through any TUN is (the kernel path needs no
// process to wake).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER, waitUntil } from '../scripts/topology.mjs';

const UDP_ECHO = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts', 'udp-echo.mjs');
const UDP_ECHO_PORT = 9300;

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** `ping -i 0.01 -c COUNT` from the client namespace: { count, lost, p50Ms, p99Ms, maxMs }. */
export function pingStats(topo, count) {
  // Warm-up, not counted: 100 echoes first, so a process that has just started (JIT, start-up work) is
  // measured in its steady state. -i below 0.2 s needs root (ping(8)); the bench runs as root. -n: no DNS.
  topo.exec(topo.client, 'ping', ['-n', '-q', '-i', '0.01', '-c', '100', '-W', '1', SERVER], {
    allowFail: true,
  });
  const r = topo.exec(topo.client, 'ping', ['-n', '-i', '0.01', '-c', String(count), '-W', '1', SERVER], {
    allowFail: true,
  });
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  if (times.length === 0) throw new Error(`ping: no replies: ${r.stderr.trim() || r.stdout.trim()}`);
  return {
    count: times.length,
    lost: count - times.length,
    p50Ms: pct(times, 50),
    p99Ms: pct(times, 99),
    maxMs: times.at(-1),
  };
}

/** N UDP round trips to a Node echo server in the server namespace: { count, lost, p50Ms, p99Ms, maxMs }. */
async function udpEchoStats(topo, count) {
  const server = topo.start(topo.server, process.execPath, [
    UDP_ECHO,
    'server',
    SERVER,
    String(UDP_ECHO_PORT),
  ]);
  try {
    await waitUntil('the UDP echo server', () => server.output().includes('listening'));
    const r = topo.exec(
      topo.client,
      process.execPath,
      [UDP_ECHO, 'client', SERVER, String(UDP_ECHO_PORT), String(count)],
      {
        allowFail: true,
      },
    );
    const line = r.stdout.trim().split('\n').at(-1);
    if (!line?.startsWith('{')) throw new Error(`udp-echo.mjs failed: ${r.stderr.trim()}`);
    return { lost: 0, ...JSON.parse(line) };
  } finally {
    await server.stop();
  }
}

/** Prints the ICMP table: no tunnel, a userspace UDP echo (no tunnel), then through `startZtun(['--proxy', 'direct'])`. */
export async function icmpRows(topo, { count, startZtun }) {
  const rows = [{ label: 'no tunnel (veth)', ...pingStats(topo, count) }];
  rows.push({
    label: 'reference: UDP echo by a Node process, no tunnel',
    ...(await udpEchoStats(topo, count)),
  });
  const z = await startZtun(['--proxy', 'direct']);
  try {
    rows.push({ label: 'ztun (answered by the stack)', ...pingStats(topo, count) });
  } finally {
    await z.stop(10_000);
  }
  const base = rows[0];
  console.log(`\n| ICMP echo, ${count} × 10 ms apart | p50 / p99 / max ms | lost | p99 vs no tunnel |`);
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${r.p50Ms.toFixed(3)} / ${r.p99Ms.toFixed(3)} / ${r.maxMs.toFixed(3)} | ${r.lost} | ${(r.p99Ms / base.p99Ms).toFixed(2)} |`,
    );
  }
  return rows;
}
