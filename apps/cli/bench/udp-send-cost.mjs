#!/usr/bin/env node
// The batch UDP path's send cost (issue 17 item 4), with and without UDP GSO: ztun's CPU per datagram for
// relay.send (tun-linux native/udp_send.h) of 64 back-to-back 1400-byte datagrams to one destination — the
// shape of one session's TUN batch under iperf3 — over loopback to a receiver in another process. The sender's
// user + sys time (process.cpuUsage around the send calls only) covers sendmmsg and the kernel's work to
// hand the datagrams to the receiving socket (loopback delivers in the sender's softirq), so it is what ztun
// pays per datagram on the send side, independent of how fast the receiver drains. Alternates GSO and no-GSO
// rounds to share the machine's load fairly. Run inside a namespace of your own (lo up), as root:
//   ip netns add ubcost && ip -n ubcost link set lo up && ip netns exec ubcost node apps/cli/bench/udp-send-cost.mjs
// Options: --rounds N (default 6), --batches N per round (default 1000), --size B (default 1400).
import { spawn } from 'node:child_process';
import { linuxSockets, loadUdpRelayEngine } from '@ztun/tun-linux';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return Number(i >= 0 ? argv[i + 1] : dflt);
};
const rounds = opt('rounds', 6);
const batches = opt('batches', 1000);
const size = opt('size', 1400);
const BATCH = 64;

// The receiver: a child process that reads and counts (a large buffer, so most datagrams are read).
const receiver = spawn(
  process.execPath,
  [
    '-e',
    `const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
     let n = 0; s.on('message', () => n++);
     s.bind(0, '127.0.0.1', () => console.log(s.address().port));
     process.stdin.on('data', () => console.log('count ' + n));`,
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const port = await new Promise((r) => receiver.stdout.once('data', (d) => r(Number(String(d)))));

function relay(gso) {
  const engine = loadUdpRelayEngine({ gso });
  if (!engine) throw new Error('the tun-linux addon does not load (pnpm --filter @ztun/tun-linux build)');
  const fd = linuxSockets.createPinnedSocket(4, 'udp', {});
  linuxSockets.bindEphemeral(fd, 4);
  return engine.open({ fd, family: 4, onDatagram() {}, onError() {} });
}

const data = new Uint8Array(BATCH * size);
const offsets = Uint32Array.from({ length: BATCH }, (_, i) => i * size);
const lengths = new Uint32Array(BATCH).fill(size);
const dsts = new Uint8Array(BATCH * 16);
const dports = new Uint32Array(BATCH).fill(port);
for (let i = 0; i < BATCH; i++) dsts.set([127, 0, 0, 1], i * 16);

const pause = () => new Promise((r) => setTimeout(r, 1));
/** µs of CPU per datagram for `batches` sends of BATCH datagrams. */
async function round(r) {
  let cpu = 0;
  for (let b = 0; b < batches; b++) {
    const t = process.cpuUsage();
    r.send(data, offsets, lengths, dsts, dports, BATCH, 4);
    const d = process.cpuUsage(t);
    cpu += d.user + d.system;
    // ~1 ms between batches (~64k datagrams/s, ~0.7 Gbit/s): the receiver keeps up, so the kernel's cost
    // is that of datagrams queued to a socket, not of drops at a full one (see the receiver's count).
    await pause();
  }
  return cpu / (batches * BATCH);
}

const results = { gso: [], plain: [] };
const relays = { gso: relay(true), plain: relay(false) };
for (let i = 0; i < rounds; i++)
  for (const k of i % 2 === 0 ? ['gso', 'plain'] : ['plain', 'gso']) results[k].push(await round(relays[k]));
const stats = { gso: relays.gso.stats(), plain: relays.plain.stats() };
for (const r of Object.values(relays)) r.close();
receiver.stdin.write('x');
const received = await new Promise((r) => receiver.stdout.once('data', (d) => r(String(d).trim())));
receiver.kill();

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `relay.send of ${BATCH} × ${size} B to one destination over loopback, ${rounds} rounds × ${batches} batches each:`,
);
console.log('| send | CPU µs per datagram, median (rounds) | GSO sends | send drops |');
console.log('| --- | ---: | ---: | ---: |');
for (const k of ['gso', 'plain'])
  console.log(
    `| ${k === 'gso' ? 'UDP GSO groups' : 'one message per datagram (gso: false)'} | ${median(results[k]).toFixed(2)} (${results[k].map((x) => x.toFixed(2)).join(' / ')}) | ${stats[k].gsoSends} | ${stats[k].sendDrops} |`,
  );
console.log(
  `receiver: ${received} of ${2 * rounds * batches * BATCH} sent; ratio plain / GSO: ${(median(results.plain) / median(results.gso)).toFixed(2)}`,
);
console.log(`load average: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
