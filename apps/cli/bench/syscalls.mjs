#!/usr/bin/env node
// System calls per new connection in ztun (issue 17 item 6), a figure that does not move with the machine's
// load the way connections/s does: ztun --auto-route in namespaces of its own, strace -f on it while
// scripts/load.mjs opens new connections (HTTP GET, one connection each, c=20) for --seconds S (default 3);
// prints the calls per connection of ztun's JS thread (the one that limits the rate) and of its other threads
// (the splice relay, libuv's pool), by name. Options: --proxy direct|socks5 (socks5: through danted),
// --root DIR (the checkout whose apps/cli/dist/bin.js to run; default this one), any other arguments go to
// `ztun run`. Needs root, strace and (for socks5) danted.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTopology, has, SERVER, SOCKS, waitUntil } from '../scripts/topology.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const argv = process.argv.slice(2);
const take = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const [, v] = argv.splice(i, 2);
  return v;
};
const proxy = take('proxy', 'direct');
const seconds = take('seconds', '3');
const root = take('root', join(here, '..', '..', '..'));
if (!has('strace')) {
  console.error('bench/syscalls.mjs: needs strace (apt-get install strace)');
  process.exit(1);
}

const topo = createTopology('sysc');
try {
  await topo.startHttp(8080);
  if (proxy === 'socks5') await topo.startDanted(1080);
  const bin = join(root, 'apps', 'cli', 'dist', 'bin.js');
  const via = proxy === 'socks5' ? `socks5://${SOCKS}:1080` : 'direct';
  const z = topo.start(topo.client, process.execPath, [
    bin,
    'run',
    '--auto-route',
    '--stats-interval',
    '0',
    '--proxy',
    via,
    ...argv,
  ]);
  await waitUntil('ztun ready', () => z.output().includes('ztun: ready:'), 15_000);
  const out = join(topo.tmp, 'strace.txt');
  // `ip netns exec` execs ztun in place: the child's pid is ztun's (and its JS thread's id).
  const pid = String(z.child.pid);
  const st = spawn('strace', ['-f', '-qq', '-o', out, '-p', pid], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000)); // strace attaches to every thread
  const load = join(here, '..', 'scripts', 'load.mjs');
  const r = topo.exec(topo.client, process.execPath, [load, 'rate', SERVER, '8080', seconds, '20'], {
    allowFail: true,
  });
  const rate = JSON.parse(r.stdout.trim().split('\n').at(-1));
  st.kill('SIGINT');
  await new Promise((resolve) => st.once('exit', resolve));
  await z.stop(10_000);
  const counts = new Map();
  let js = 0;
  let other = 0;
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^(\d+)\s+(\w+)\(/.exec(line);
    if (!m) continue;
    const who = m[1] === pid ? 'js' : 'other';
    if (who === 'js') js++;
    else other++;
    const key = `${who} ${m[2]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const per = (n) => (n / rate.count).toFixed(2);
  console.log(
    `ztun --proxy ${proxy}: ${rate.count} connections; system calls per connection: JS thread ${per(js)}, other threads ${per(other)}`,
  );
  for (const who of ['js', 'other']) {
    const rows = [...counts]
      .filter(([k, n]) => k.startsWith(`${who} `) && n / rate.count >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k.slice(who.length + 1)} ${per(n)}`);
    console.log(`  ${who === 'js' ? 'JS thread' : 'other threads'}: ${rows.join(', ')}`);
  }
} finally {
  topo.cleanup();
}
process.exit(0);
