// ICMP echo through the TUN for `bench:tunnel` (issue 17 item 6): ping(8) from the client namespace to the
// server's address, COUNT echoes at 10 ms intervals, with no tunnel (the server's kernel answers across the
// veth) and through ztun (--icmp reply, the default: the stack answers in place, icmp-echo.ts). p50/p99/max
// of the per-echo round trips ping prints (`time=… ms`) after 100 uncounted warm-up echoes, and the lost
// count. A reference row: a Node UDP echo server in the server namespace, no tunnel (scripts/udp-echo.mjs) —
// the round trip of a userspace responder, which is what an echo through any TUN is (the kernel path needs no
// process to wake). Two more references answer the same pings through a TUN of their own in the client
// namespace (a /32 route to the server through it): a C process that does nothing but answer
// (echo-responder.c, compiled with cc into the run's temporary directory; the row is left out without cc)
// — the floor of any TUN responder here, i.e. the wake-up of a process on this machine — and a Node process
// with @ztun/tun-linux and echoReplyInPlace only (echo-responder.mjs): the same plus Node's loop and one JS call.
// ztun twice: as it runs (echo requests answered in the addon's read path, native/icmp_echo.h) and with
// ZTUN_DEVICE_ECHO=0 (through the stack's JS path, icmp-echo.ts).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, SERVER, waitUntil } from '../scripts/topology.mjs';

const UDP_ECHO = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts', 'udp-echo.mjs');
const UDP_ECHO_PORT = 9300;
const BENCH = fileURLToPath(new URL('.', import.meta.url));

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

/**
 * pingStats through a responder process `cmd args…` that opens the TUN `name` in the client namespace and
 * prints "ready": the link is brought up and the server's /32 routed through it; the TUN goes with the process.
 */
async function responderStats(topo, count, name, cmd, args, fifo) {
  const p = topo.start(topo.client, cmd, [...args, name]);
  try {
    await waitUntil(`${cmd} ready`, () => {
      if (p.child.exitCode !== null) throw new Error(`${cmd} exited early:\n${p.output()}`);
      return p.output().includes('ready');
    });
    if (fifo) realtime(p.child.pid);
    topo.ip(topo.client, 'link', 'set', name, 'up');
    topo.ip(topo.client, 'route', 'add', `${SERVER}/32`, 'dev', name);
    return pingStats(topo, count);
  } finally {
    await p.stop();
  }
}

/** The C responder's row, or undefined without a C compiler. */
async function cResponderStats(topo, count, fifo) {
  const bin = join(topo.tmp, 'echo-responder');
  const cc = run('cc', ['-O2', '-o', bin, join(BENCH, 'echo-responder.c')], { allowFail: true });
  if (cc.status !== 0) {
    console.log(
      `  C responder skipped: cc failed or is missing (${(cc.stderr ?? '').trim().split('\n')[0]})`,
    );
    return undefined;
  }
  return responderStats(topo, count, `${topo.prefix}echo0`, bin, [], fifo);
}

/** pingStats through `ztun run --proxy direct`, started with `env` added to this process's environment. */
/**
 * `--icmp-fifo`: every thread of the responder (C, Node, ztun) at SCHED_FIFO priority 1 (chrt(1), sched(7)),
 * so a woken responder runs before any normal task on its core: what is left of the tail is not ztun's work
 * waiting for a CPU. ping itself stays at normal priority.
 */
function realtime(pid) {
  run('chrt', ['-a', '-f', '-p', '1', String(pid)]);
}

async function ztunStats(topo, count, startZtun, env = {}, fifo = false) {
  const saved = Object.keys(env).map((k) => [k, process.env[k]]);
  Object.assign(process.env, env);
  let z;
  try {
    z = await startZtun(['--proxy', 'direct']);
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  try {
    if (fifo) realtime(z.child.pid);
    return pingStats(topo, count);
  } finally {
    await z.stop(10_000);
  }
}

/** Prints the ICMP table: no tunnel, a userspace UDP echo (no tunnel), then through `startZtun(['--proxy', 'direct'])`. */
export async function icmpRows(topo, { count, startZtun, fifo = false }) {
  const rows = [{ label: 'no tunnel (veth)', ...pingStats(topo, count) }];
  rows.push({
    label: 'reference: UDP echo by a Node process, no tunnel',
    ...(await udpEchoStats(topo, count)),
  });
  const c = await cResponderStats(topo, count, fifo);
  if (c) rows.push({ label: 'reference: C process answering on a TUN (poll, read, write)', ...c });
  rows.push({
    label: 'reference: Node process answering on a TUN (@ztun/tun-linux + echoReplyInPlace)',
    ...(await responderStats(
      topo,
      count,
      `${topo.prefix}echo1`,
      process.execPath,
      [join(BENCH, 'echo-responder.mjs')],
      fifo,
    )),
  });
  rows.push({
    label: "ztun (answered in the addon's read path)",
    ...(await ztunStats(topo, count, startZtun)),
  });
  rows.push({
    label: 'ztun, ZTUN_DEVICE_ECHO=0 (answered by the stack in JS)',
    ...(await ztunStats(topo, count, startZtun, { ZTUN_DEVICE_ECHO: '0' }, fifo)),
  });
  const base = rows[0];
  // The C responder is the floor of any TUN responder here (a process's wake-up on this machine): ztun's
  // p99 over it is what ztun adds; over no tunnel, what any userspace answer costs.
  const floor = c ? { label: 'C', p99Ms: c.p99Ms } : undefined;
  if (fifo)
    console.log('\nresponders (C, Node, ztun) at SCHED_FIFO 1 (--icmp-fifo); ping at normal priority');
  console.log(
    `\n| ICMP echo, ${count} × 10 ms apart | p50 / p99 / max ms | lost | p99 vs no tunnel |${floor ? ' p99 vs C responder |' : ''}`,
  );
  console.log(`| --- | ---: | ---: | ---: |${floor ? ' ---: |' : ''}`);
  for (const r of rows) {
    const vsFloor = floor ? ` ${(r.p99Ms / floor.p99Ms).toFixed(2)} |` : '';
    console.log(
      `| ${r.label} | ${r.p50Ms.toFixed(3)} / ${r.p99Ms.toFixed(3)} / ${r.maxMs.toFixed(3)} | ${r.lost} | ${(r.p99Ms / base.p99Ms).toFixed(2)} |${vsFloor}`,
    );
  }
  return rows;
}
