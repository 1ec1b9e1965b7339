// The scale part of `bench:tunnel` (issue 17 item 7), in the same run and namespaces as the throughput legs:
//   connections/s (HTTP GET, a new connection each, c=50) with p50/p99, and 64-byte request/response
//   latency — no tunnel, the SOCKS hop alone (client → danted, no ztun), ztun --proxy direct, ztun --proxy
//   socks5; held idle connections with ztun's fds and RSS, the mass close and its release; ztun's RSS across
//   repeated bursts of SOCKS5 connections. Ratios are against the no-tunnel path (SOCKS legs: against the
//   SOCKS hop alone) measured minutes apart on the same machine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER, SOCKS } from '../scripts/topology.mjs';
import { measureHeld, rssMbOf, startHoldServer } from './held.mjs';

const LOAD = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts', 'load.mjs');
const HTTP_PORT = 8080;
const ECHO_PORT = 9100;

function load(topo, args) {
  const r = topo.exec(topo.client, process.execPath, [LOAD, ...args], { allowFail: true });
  const lastLine = r.stdout.trim().split('\n').at(-1);
  if (!lastLine?.startsWith('{')) throw new Error(`load.mjs ${args[0]} failed: ${r.stderr.trim()}`);
  return JSON.parse(lastLine);
}

const rate = (topo, seconds, socks) =>
  load(topo, ['rate', SERVER, String(HTTP_PORT), String(seconds), '50', ...(socks ? [socks] : [])]);
const rtt = (topo, socks) =>
  load(topo, ['rtt', SERVER, String(ECHO_PORT), '5000', ...(socks ? [socks] : [])]);

/**
 * utime + stime of all the process's threads, in seconds (/proc/PID/stat fields 14, 15; 100 ticks/s); with
 * `thread`, of its main (JS) thread alone (/proc/PID/task/PID/stat, proc(5)).
 */
function cpuSecondsOf(pid, thread = false) {
  const path = thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`;
  const fields = readFileSync(path, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const f = (v, d = 0) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
const ratio = (v, base) => (v === undefined || !base ? '–' : (v / base).toFixed(2));

/**
 * Runs the scale measurements. `startZtun(args)` starts ztun (resolves to a topology process); `socksUrl`
 * when danted runs. Prints its tables.
 */
export async function scaleSection(
  topo,
  { seconds, held, bursts, startZtun, socksUrl, onlyHeld = false, onlyRate = false, rateAb, rateRepeat = 1 },
) {
  await topo.startHttp(HTTP_PORT);
  await startHoldServer(topo); // also the echo server of the request/response legs
  if (onlyRate) {
    if (socksUrl) await topo.startDanted(1080);
    for (let i = 0; i < rateRepeat; i++) await rateLegs(topo, { seconds, startZtun, socksUrl, rateAb });
    return;
  }
  if (onlyHeld && socksUrl) await topo.startDanted(1080); // the bursts go through it
  if (!onlyHeld) await rateLegs(topo, { seconds, startZtun, socksUrl });
  await heldLegs(topo, { held, startZtun });
  await burstLeg(topo, { seconds, bursts, startZtun, socksUrl });
}

/** Starts ztun with NAME=VALUE in its environment (undefined: as is); restores the bench's own environment. */
async function startWithEnv(startZtun, args, env) {
  if (!env) return startZtun(args);
  const at = env.indexOf('=');
  const [name, value] = [env.slice(0, at), env.slice(at + 1)];
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await startZtun(args);
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/**
 * Connections/s and latency: no tunnel, the SOCKS hop alone, ztun direct and socks5. With `rateAb`
 * (NAME=VALUE) each ztun leg runs twice in a row, without then with that variable in ztun's environment.
 */
async function rateLegs(topo, { seconds, startZtun, socksUrl, rateAb }) {
  const socksHop = socksUrl ? `${SOCKS}:1080` : undefined;
  const legs = [{ label: 'no tunnel (veth)', rate: rate(topo, seconds), rtt: rtt(topo) }];
  if (socksHop)
    legs.push({
      label: 'SOCKS hop alone (danted, no ztun)',
      rate: rate(topo, seconds, socksHop),
      rtt: rtt(topo, socksHop),
    });
  const ztunLegs = [
    ['ztun --proxy direct', ['--proxy', 'direct']],
    ...(socksUrl ? [['ztun --proxy socks5 (danted)', ['--proxy', socksUrl]]] : []),
  ].flatMap(([label, args]) =>
    rateAb
      ? [
          [label, args],
          [`${label} ${rateAb}`, args, rateAb],
        ]
      : [[label, args]],
  );
  for (const [label, args, env] of ztunLegs) {
    const z = await startWithEnv(startZtun, args, env);
    try {
      const cpu0 = cpuSecondsOf(z.child.pid);
      const js0 = cpuSecondsOf(z.child.pid, true);
      const r = rate(topo, seconds);
      // ztun's CPU time (all threads, user + system) per new connection: steadier than conn/s on a shared
      // machine; and its JS thread's alone (the one that limits the rate).
      const cpuUs = ((cpuSecondsOf(z.child.pid) - cpu0) / r.count) * 1e6;
      const jsUs = ((cpuSecondsOf(z.child.pid, true) - js0) / r.count) * 1e6;
      legs.push({ label, rate: r, rtt: rtt(topo), cpuUs, jsUs });
    } finally {
      await z.stop(10_000);
    }
  }
  const base = legs[0];
  const hop = legs.find((l) => l.label.startsWith('SOCKS hop'));
  console.log(
    '\n| path | new conn/s (c=50) | p50 / p99 ms | vs no tunnel | vs SOCKS hop | ztun CPU µs per conn (JS thread) | 64 B req/resp p50 / p99 µs | p99 vs no tunnel | p99 vs SOCKS hop |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const l of legs) {
    const r = l.rate;
    const t = l.rtt;
    console.log(
      `| ${l.label} | ${f(r.perSecond)}${r.failed ? ` (${r.failed} failed)` : ''} | ${f(r.p50Ms, 1)} / ${f(r.p99Ms, 1)} | ` +
        `${ratio(r.perSecond, base.rate.perSecond)} | ${ratio(r.perSecond, hop?.rate.perSecond)} | ${f(l.cpuUs)}${l.jsUs === undefined ? '' : ` (${f(l.jsUs)})`} | ` +
        `${f(t.p50Us)} / ${f(t.p99Us)} | ${ratio(t.p99Us, base.rtt.p99Us)} | ${ratio(t.p99Us, hop?.rtt.p99Us)} |`,
    );
  }
}

/** Held connections: fds, RSS, the mass close. */
async function heldLegs(topo, { held, startZtun }) {
  if (held > 0) {
    console.log(
      `\n| held idle connections (${held} opened) | held (echoed a byte) | fds per conn | ztun RSS MB idle / held / released / 30 s after close | TUN drops open / close | all released after |`,
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [label, args] of [
      ['ztun --proxy direct', ['--proxy', 'direct']],
      ['ztun --proxy direct --no-splice', ['--proxy', 'direct', '--no-splice']],
    ]) {
      const z = await startZtun(args);
      try {
        const h = await measureHeld(topo, z, held, { releaseLimitMs: 60_000 });
        const released =
          h.releasedMs === undefined
            ? `> 60 s (${h.left} client sockets, ${h.leftFds} fds left)`
            : `${f(h.releasedMs / 1000, 1)} s`;
        console.log(
          `| ${label} | ${h.pinged}${h.failed ? ` (${h.failed} failed: ${JSON.stringify(h.errors)})` : ''}${h.lost ? ` (${h.lost} reset)` : ''} | ${f(h.fdsPerConn, 2)} | ` +
            `${f(h.rss0)} / ${f(h.rssHeld)} / ${f(h.rssAfterClose)} / ${f(h.rssAfter30s)} | ${h.tunDropsOpening} / ${h.tunDropsClosing} | ${released} |`,
        );
      } finally {
        await z.stop(10_000);
      }
    }
  }
}

/** RSS across repeated bursts of short SOCKS5 connections (or direct ones without danted). */
async function burstLeg(topo, { seconds, bursts, startZtun, socksUrl }) {
  if (bursts > 0) {
    const args = socksUrl ? ['--proxy', socksUrl] : ['--proxy', 'direct'];
    const z = await startZtun(args);
    try {
      const rss = [rssMbOf(z.child.pid)];
      const rates = [];
      for (let i = 0; i < bursts; i++) {
        rates.push(rate(topo, seconds).perSecond);
        rss.push(rssMbOf(z.child.pid));
      }
      console.log(
        `\nztun ${args.join(' ')} RSS across ${bursts} × ${seconds} s bursts (c=50, ${rates.map((r) => f(r)).join(' / ')} conn/s): ` +
          `${rss.map((r) => f(r)).join(' → ')} MB`,
      );
    } finally {
      await z.stop(10_000);
    }
  }
}
