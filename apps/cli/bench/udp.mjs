// UDP through the tunnel for `bench:tunnel` (issue 17 items 4, 7): iperf3 -u at an offered rate, one
// stream, client → server (or -R), with no tunnel and through ztun: delivered Mbit/s and loss.
import { SERVER } from '../scripts/topology.mjs';

/** iperf3 -u -b RATE for `seconds`: { offered, delivered (Mbit/s at the receiver), lossPct }. */
export function iperfUdp(topo, rate, seconds, reverse) {
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
    ...(reverse ? ['-R'] : []),
  ];
  const r = topo.exec(topo.client, 'iperf3', args, { allowFail: true });
  const j = JSON.parse(r.stdout || '{}');
  if (j.error) throw new Error(`iperf3 -u: ${j.error}`);
  const sum = j.end.sum_received ?? j.end.sum;
  return { rate, delivered: sum.bits_per_second / 1e6, lossPct: sum.lost_percent ?? j.end.sum.lost_percent };
}

/** Rows for each offered rate: no tunnel, then through `startZtun(['--proxy', 'direct'])`. */
export async function udpRows(topo, { seconds, reverse, startZtun, rates = ['500M', '1G'] }) {
  const rows = [];
  for (const rate of rates)
    rows.push({ label: 'no tunnel (veth)', ...iperfUdp(topo, rate, seconds, reverse) });
  const z = await startZtun(['--proxy', 'direct']);
  try {
    for (const rate of rates)
      rows.push({ label: 'ztun --proxy direct', ...iperfUdp(topo, rate, seconds, reverse) });
  } finally {
    await z.stop(10_000);
  }
  console.log(
    `\n| UDP iperf3 -u, 1400 B datagrams${reverse ? ' (-R)' : ''} | offered | delivered Mbit/s | loss | vs no tunnel |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const base = rows.find((b) => b.label.startsWith('no tunnel') && b.rate === r.rate);
    console.log(
      `| ${r.label} | ${r.rate} | ${r.delivered.toFixed(0)} | ${r.lossPct.toFixed(1)} % | ${(r.delivered / base.delivered).toFixed(2)} |`,
    );
  }
}
