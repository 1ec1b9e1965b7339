// A userspace round-trip reference for `bench:tunnel`'s ICMP table (bench/icmp.mjs), one JSON line on stdout:
//   node udp-echo.mjs server HOST PORT     echoes every datagram back (prints "listening")
//   node udp-echo.mjs client HOST PORT N   N 56-byte datagrams (after 100 uncounted warm-up ones), one every
//                                           10 ms after the last reply:
//     {"count","p50Ms","p99Ms","maxMs"}
// Each round trip wakes two Node processes (no tunnel in between): what a userspace responder costs here.
import dgram from 'node:dgram';

const [mode, host, portText, n] = process.argv.slice(2);
const port = Number(portText);
const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
if (mode === 'server') {
  sock.on('message', (m, r) => sock.send(m, r.port, r.address));
  sock.bind(port, host, () => console.log('listening'));
} else {
  const count = Number(n);
  const times = [];
  const payload = Buffer.alloc(56);
  let t0 = 0n;
  const next = () => {
    t0 = process.hrtime.bigint();
    sock.send(payload, port, host);
  };
  let warmUp = 100;
  sock.on('message', () => {
    if (warmUp > 0) warmUp--;
    else times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (times.length < count) {
      setTimeout(next, 10);
      return;
    }
    times.sort((a, b) => a - b);
    const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
    console.log(JSON.stringify({ count, p50Ms: pct(50), p99Ms: pct(99), maxMs: times.at(-1) }));
    process.exit(0);
  });
  next();
}
