#!/usr/bin/env node
// `node apps/cli/bench/tun-queue.mjs` (root, after `pnpm build`): how many packets the kernel drops at the
// TUN's own queue (the link's tx_dropped: tun_net_xmit found `txqueuelen` packets already waiting for ztun)
// for a few queue lengths and MTUs, in namespaces of its own. Two loads per setting, through
// `ztun --route … --proxy direct`:
//   udp: a burst of --datagrams (default 100000) 1200-byte datagrams sent as fast as one Node socket can
//   tcp: iperf3, one stream, --time S (default 4)
// Prints drops, the share of datagrams dropped, and iperf3's Gbit/s and retransmits.
// Options: --qlens 500,1000,4096  --mtus 65520,1500

import { createTopology, has, preflight, SERVER } from '../scripts/topology.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const qlens = opt('qlens', '500,1000,4096').split(',').map(Number);
const mtus = opt('mtus', '65520,1500').split(',').map(Number);
const datagrams = Number(opt('datagrams', '100000'));
const seconds = Number(opt('time', '4'));

const problems = preflight();
if (!has('iperf3')) problems.push('needs iperf3 (apt-get install iperf3)');
if (problems.length) {
  console.error(`tun-queue bench: ${problems.join('; ')}`);
  process.exit(1);
}

const topo = createTopology('tunq');
const txDropped = () =>
  JSON.parse(topo.ip(topo.client, '-s', '-j', 'link', 'show', 'ztun0').stdout)[0].stats64.tx.dropped;

const FLOOD = `const s=require('node:dgram').createSocket('udp4');const b=Buffer.alloc(1200);let n=0;
const go=()=>{for(let i=0;i<500&&n<${datagrams};i++,n++)s.send(b,9,'${SERVER}');if(n<${datagrams})setImmediate(go);else setTimeout(()=>process.exit(0),300)};go()`;

try {
  const iperf = topo.start(topo.server, 'iperf3', ['-s', '-B', SERVER]);
  await new Promise((r) => setTimeout(r, 500));
  const rows = [];
  for (const mtu of mtus) {
    for (const qlen of qlens) {
      const z = await topo.startZtun([
        '--route',
        '10.212.0.0/24',
        '--proxy',
        'direct',
        '--mtu',
        String(mtu),
        '--stats-interval',
        '0',
      ]);
      topo.ip(topo.client, 'link', 'set', 'ztun0', 'txqueuelen', String(qlen));
      const d0 = txDropped();
      topo.exec(topo.client, process.execPath, ['-e', FLOOD]);
      const udpDrops = txDropped() - d0;
      const d1 = txDropped();
      const r = JSON.parse(
        topo.exec(topo.client, 'iperf3', ['-c', SERVER, '-t', String(seconds), '-J'], { allowFail: true })
          .stdout || '{}',
      );
      const tcpDrops = txDropped() - d1;
      const gbps = (r.end?.sum_received?.bits_per_second ?? 0) / 1e9;
      const retrans = r.end?.sum_sent?.retransmits ?? NaN;
      rows.push({ mtu, qlen, udpDrops, tcpDrops, gbps, retrans });
      console.log(
        `mtu ${mtu} txqueuelen ${qlen}: udp burst ${udpDrops} of ${datagrams} dropped (${((100 * udpDrops) / datagrams).toFixed(1)} %); ` +
          `tcp ${gbps.toFixed(2)} Gbit/s, ${tcpDrops} dropped, ${retrans} retransmits`,
      );
      await z.stop();
    }
  }
  await iperf.stop();
} finally {
  topo.cleanup();
}
