// Load for `bench:tunnel` (issue 17 items 6, 7), one JSON line on stdout:
//   node load.mjs rate HOST PORT SECONDS CONCURRENCY [SOCKS_HOST:PORT]
//     new TCP connection per HTTP GET / (Connection: close), CONCURRENCY at once for SECONDS:
//     {"count","perSecond","p50Ms","p99Ms","failed"}
//   node load.mjs rtt HOST PORT COUNT [SOCKS_HOST:PORT]
//     one connection to an echo server, COUNT 64-byte request/response round trips:
//     {"count","p50Us","p99Us"}
// With SOCKS_HOST:PORT every connection goes through that SOCKS5 proxy (no auth, CONNECT, RFC 1928).
import net from 'node:net';

const [mode, host, portText, a, b, socksArg] = process.argv.slice(2);
const port = Number(portText);
const socks = (mode === 'rate' ? socksArg : b)?.split(':');

/** A connected socket to host:port, through the SOCKS5 proxy when one is given. */
function connect() {
  return new Promise((resolve, reject) => {
    if (!socks) {
      const s = net.connect({ host, port, noDelay: true }, () => resolve(s));
      s.once('error', reject);
      return;
    }
    const s = net.connect({ host: socks[0], port: Number(socks[1]), noDelay: true });
    s.once('error', reject);
    let stage = 0;
    let buf = Buffer.alloc(0);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[0] !== 5 || buf[1] !== 0) return reject(new Error('socks: no acceptable method'));
        buf = buf.subarray(2);
        stage = 1;
        const req = Buffer.alloc(10);
        req.set([5, 1, 0, 1, ...host.split('.').map(Number)]);
        req.writeUInt16BE(port, 8);
        s.write(req);
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) return reject(new Error(`socks: reply ${buf[1]}`));
        s.off('data', onData);
        stage = 2;
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function rate(seconds, concurrency) {
  const times = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const one = async () => {
    const t0 = performance.now();
    const s = await connect();
    await new Promise((resolve, reject) => {
      s.on('data', () => {});
      s.once('end', resolve);
      s.once('error', reject);
      s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    s.destroy();
    times.push(performance.now() - t0);
  };
  const worker = async () => {
    while (performance.now() < end) await one().catch(() => failed++);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - t0) / 1000;
  times.sort((x, y) => x - y);
  return {
    count: times.length,
    perSecond: times.length / wall,
    p50Ms: pct(times, 50),
    p99Ms: pct(times, 99),
    failed,
  };
}

async function rtt(count) {
  const s = await connect();
  const msg = Buffer.alloc(64, 0x61);
  const times = [];
  let got = 0;
  let waiter;
  s.on('data', (d) => {
    got += d.length;
    if (got >= msg.length && waiter) {
      got -= msg.length;
      const w = waiter;
      waiter = undefined;
      w();
    }
  });
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => {
      waiter = resolve;
      s.write(msg);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  s.destroy();
  times.sort((x, y) => x - y);
  return { count, p50Us: pct(times, 50), p99Us: pct(times, 99) };
}

const out = mode === 'rate' ? await rate(Number(a), Number(b)) : await rtt(Number(a));
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
