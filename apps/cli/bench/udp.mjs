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

/**
 * Rows for each direction (client → server, then -R) and offered rate: no tunnel, ztun --proxy direct with
 * the batch UDP path (the default on Linux) and with ZTUN_UDP_BATCH=0 (Node's dgram, one call per datagram).
 */
export async function udpRows(topo, { seconds, startZtun, rates = ['500M', '1G'] }) {
  const rows = [];
  const legs = [
    { label: 'ztun --proxy direct (batch path)', env: undefined },
    { label: 'ztun --proxy direct, ZTUN_UDP_BATCH=0 (per datagram)', env: '0' },
  ];
  for (const reverse of [false, true]) {
    for (const rate of rates)
      rows.push({ label: 'no tunnel (veth)', reverse, ...iperfUdp(topo, rate, seconds, reverse) });
  }
  for (const leg of legs) {
    // The environment is inherited through `ip netns exec` by the ztun process started next.
    if (leg.env === undefined) delete process.env.ZTUN_UDP_BATCH;
    else process.env.ZTUN_UDP_BATCH = leg.env;
    const z = await startZtun(['--proxy', 'direct']);
    delete process.env.ZTUN_UDP_BATCH;
    try {
      for (const reverse of [false, true])
        for (const rate of rates)
          rows.push({ label: leg.label, reverse, ...iperfUdp(topo, rate, seconds, reverse) });
    } finally {
      await z.stop(10_000);
    }
  }
  console.log(
    '\n| UDP iperf3 -u, 1400 B datagrams | direction | offered | delivered Mbit/s | loss | vs no tunnel |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const reverse of [false, true])
    for (const r of rows.filter((x) => x.reverse === reverse)) {
      const base = rows.find(
        (b) => b.label.startsWith('no tunnel') && b.rate === r.rate && b.reverse === reverse,
      );
      console.log(
        `| ${r.label} | ${reverse ? 'server → client (-R)' : 'client → server'} | ${r.rate} | ${r.delivered.toFixed(0)} | ${r.lossPct.toFixed(1)} % | ${(r.delivered / base.delivered).toFixed(2)} |`,
      );
    }
  return rows;
}
