// The macOS smoke test of `pnpm test:macos` (scripts/test-macos.sh runs it with sudo on a Mac; it has
// never run anywhere else): `ztun run --route 198.51.100.0/24` with a SOCKS5 server on loopback, a local
// HTTP server reached *through the utun*, ping answered by ztun, SIGTERM, and the routes gone afterwards.
// Prints each thing it verified; exits 1 at the first that does not hold.
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const TARGET = '198.51.100.7'; // TEST-NET-2 (RFC 5737): routed into the utun, owned by nobody
const fail = (what) => {
  console.error(`macos-smoke: FAIL: ${what}`);
  process.exit(1);
};
const ok = (what) => console.log(`macos-smoke: verified: ${what}`);
if (process.platform !== 'darwin') fail(`this is ${process.platform}; the smoke test needs macOS`);
if (process.getuid?.() !== 0) fail('needs root (sudo): utun and route changes are privileged');

const routeInterface = () => {
  try {
    return /interface: (\S+)/.exec(execFileSync('route', ['-n', 'get', TARGET], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
};

const nonce = `ztun-macos-smoke-${process.pid}-${Date.now()}`;
const web = http.createServer((_, res) => res.end(nonce));
await new Promise((r) => web.listen(0, '127.0.0.1', r));
const asked = [];
const socks = net.createServer((c) => {
  c.once('data', () => {
    c.write(Buffer.from([5, 0]));
    c.once('data', (req) => {
      asked.push(`${[...req.subarray(4, 8)].join('.')}:${req.readUInt16BE(8)}`);
      const up = net.connect(web.address().port, '127.0.0.1', () => {
        c.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
        c.pipe(up).pipe(c);
      });
      up.on('error', () => c.destroy());
    });
  });
  c.on('error', () => {});
});
await new Promise((r) => socks.listen(0, '127.0.0.1', r));

const before = routeInterface();
const ztun = spawn(
  process.execPath,
  [
    bin,
    'run',
    '--route',
    '198.51.100.0/24',
    '--proxy',
    `socks5://127.0.0.1:${socks.address().port}`,
    '--stats-interval',
    '0',
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let output = '';
const exited = new Promise((r) => ztun.on('exit', (code, signal) => r(code ?? signal)));
const ready = await new Promise((resolve) => {
  const onData = (d) => {
    output += d;
    const m = /ztun: ready: (utun\d+) /.exec(output);
    if (m) resolve(m[1]);
  };
  ztun.stdout.on('data', onData);
  ztun.stderr.on('data', onData);
  exited.then(() => resolve(undefined));
});
if (!ready) fail(`ztun run did not become ready:\n${output}`);
ok(`ztun run is ready on ${ready} (the kernel picked the unit)`);

const via = routeInterface();
if (via !== ready) fail(`route -n get ${TARGET} says interface ${via}, not ${ready}`);
ok(`route -n get ${TARGET}: interface ${via} (was ${before ?? 'none'})`);

const body = await new Promise((resolve, reject) => {
  http
    .get({ host: TARGET, port: 80, timeout: 10_000 }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    })
    .on('error', reject);
}).catch((err) => fail(`HTTP through ${ready}: ${err.message}`));
if (body !== nonce) fail(`HTTP through ${ready} returned ${JSON.stringify(body)}`);
if (!asked.includes(`${TARGET}:80`)) fail(`the SOCKS5 server was asked for ${asked.join(', ') || 'nothing'}`);
ok(
  `HTTP GET http://${TARGET}/ went through ${ready} → ztun → SOCKS5 (asked for ${TARGET}:80) → the local server`,
);

try {
  execFileSync('ping', ['-c', '1', '-t', '5', TARGET], { stdio: 'ignore' });
  ok(`ping ${TARGET}: answered by ztun itself through ${ready} (icmp reply, seed 002)`);
} catch {
  fail(`ping ${TARGET} got no reply through ${ready}`);
}

ztun.kill('SIGTERM');
const code = await exited;
if (code !== 0) fail(`ztun exited ${code} after SIGTERM:\n${output}`);
ok('SIGTERM: ztun exited 0');
const after = routeInterface();
if (after === ready) fail(`after exit, ${TARGET} still routes into ${ready}`);
try {
  execFileSync('ifconfig', [ready], { stdio: 'ignore' });
  fail(`${ready} still exists after exit`);
} catch {
  ok(`${ready} is gone and ${TARGET} routes via ${after ?? 'nothing'} again`);
}
execFileSync(process.execPath, [bin, 'cleanup'], { stdio: 'inherit' });
ok('ztun cleanup exits 0');
web.close();
socks.close();
console.log('macos-smoke: OK');
