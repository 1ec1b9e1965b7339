#!/usr/bin/env node
// `pnpm demo` (root): ztun end to end in two network namespaces of its own.
//   1. the library: examples/embed.mjs calls createTunnel({ proxy: 'direct', autoRoute: true, … }) in the
//      client namespace; an HTTP server in the server namespace; fetch through the tunnel, show routes/rules
//      and the stats, stop it, show everything is gone.
//   2. the CLI: ztun run --auto-route --proxy socks5:// to danted (when danted is installed), the same checks.
// Everything it creates is removed on success, on failure and on Ctrl-C.

import {
  BIN,
  createTopology,
  has,
  preflight,
  SERVER,
  SERVER6,
  SOCKS,
  sleep,
  waitUntil,
} from './topology.mjs';

const problems = preflight();
if (problems.length) {
  console.error(`demo: ${problems.join('; ')}`);
  process.exit(1);
}

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s) => console.log(`\n${bold(`== ${s}`)}`);

const topo = createTopology('demo');
const { client } = topo;

/** GET through whatever routing the client namespace has; returns body and timing. */
function fetchIn(url) {
  const t0 = process.hrtime.bigint();
  let body;
  if (has('curl')) {
    body = topo.exec(client, 'curl', ['-sS', '-m', '20', url]).stdout;
  } else {
    const js = `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t))`;
    body = topo.exec(client, process.execPath, ['-e', js]).stdout;
  }
  return { body, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function lastStats(p) {
  const lines = p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return lines.length ? JSON.parse(lines.at(-1)) : undefined;
}

function showStats(s) {
  if (!s) return console.log('(no stats line yet)');
  const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
  console.log(
    `tcp open ${s.tcpOpen}, udp open ${s.udpOpen}; carried ${mib(s.bytesOut)} up, ${mib(s.bytesIn)} down; ` +
      `TUN packets ${s.packetsOut} read / ${s.packetsIn} written; drops ${s.drops}`,
  );
  console.log(`raw: ${JSON.stringify(s)}`);
}

/** `how`: { args } for `ztun run ARGS`, or { config } for createTunnel(config) in examples/embed.mjs. */
async function leg(title, how, expectWho, ipv6) {
  let z;
  if (how.config) {
    step(`${title}: createTunnel(${JSON.stringify(how.config)}) (examples/embed.mjs)`);
    z = await topo.startEmbedded(how.config, '  [embed] ');
  } else {
    step(`${title}: ztun run ${how.args.join(' ')}`);
    z = await topo.startZtun([...how.args, '--stats-interval', '500ms'], '  [ztun] ');
  }

  step('policy rules and the tunnel table in the client namespace');
  console.log(topo.ip(client, 'rule', 'show').stdout.trimEnd());
  console.log(topo.ip(client, '-4', 'route', 'show', 'table', '31348').stdout.trimEnd());
  console.log(`route get ${SERVER}: ${topo.ip(client, 'route', 'get', SERVER).stdout.split('\n')[0]}`);

  step(`fetch http://${SERVER}:8080/whoami through the tunnel`);
  const who = fetchIn(`http://${SERVER}:8080/whoami`);
  console.log(`the server saw the connection come from ${who.body.trim()} (expected ${expectWho})`);
  if (who.body.trim() !== expectWho) throw new Error(`unexpected peer ${who.body.trim()}`);
  if (ipv6) console.log(`IPv6: ${fetchIn(`http://[${SERVER6}]:8080/`).body.trim()}`);

  const size = 50_000_000;
  const big = fetchIn(`http://${SERVER}:8080/bytes/${size}`);
  if (big.body.length !== size) throw new Error(`got ${big.body.length} of ${size} bytes`);
  console.log(
    `50 MB in ${big.ms.toFixed(0)} ms = ${((size * 8) / (big.ms / 1000) / 1e9).toFixed(2)} Gbit/s (curl, one connection)`,
  );

  await sleep(700);
  step('stats (JSON lines: tunnel.stats(), as ztun run writes them when stdout is not a terminal)');
  showStats(lastStats(z));

  step('SIGTERM: the tunnel removes what it added');
  const code = await z.stop(10_000);
  console.log(`exited with ${code}`);
  console.log(topo.ip(client, 'rule', 'show').stdout.trimEnd());
  const left = topo.exec(client, 'ip', ['link', 'show', 'ztun0'], { allowFail: true }).status;
  console.log(left === 0 ? 'ztun0 still exists!' : 'ztun0 is gone');
  if (code !== 0) throw new Error(`exited with ${code}`);
}

let failed = false;
try {
  step(`namespaces ${topo.client} (client, runs ztun) and ${topo.server} (server)`);
  await topo.startHttp(8080);
  console.log(`HTTP server on ${SERVER}:8080 and [${SERVER6}]:8080 in the server namespace`);

  await leg(
    'direct, through the library',
    { config: { proxy: 'direct', autoRoute: true, address: ['198.18.0.1/15', 'fd00:7a74::1/64'] } },
    '10.211.0.1',
    true,
  );

  if (has('danted')) {
    await topo.startDanted(1080);
    console.log(`\ndanted (SOCKS5) on ${SOCKS}:1080 in the server namespace`);
    await leg(
      'socks5, through the CLI',
      { args: ['--auto-route', '--proxy', `socks5://${SOCKS}:1080`] },
      SOCKS,
      false, // this danted config has an IPv4 external address only
    );
  } else {
    step('socks5 leg skipped: danted is not installed (apt-get install dante-server)');
  }
  step(`done: createTunnel and ${BIN} worked`);
} catch (err) {
  failed = true;
  console.error(`\ndemo failed: ${err.message}`);
} finally {
  topo.cleanup();
  await waitUntil('namespaces removed', () => true);
  console.log('namespaces removed');
}
process.exit(failed ? 1 : 0);
