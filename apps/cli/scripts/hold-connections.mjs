// Many idle TCP connections, for the scale test and `bench:tunnel` (issue 17):
//   node hold-connections.mjs server HOST PORT      accepts and holds; answers an end with an end; echoes bytes
//   node hold-connections.mjs client HOST PORT N    opens N connections (256 at a time) and holds them
// Each prints one JSON line per event on stdout. The client reads commands on stdin, one a line:
//   close  destroys every connection at once (each sends its FIN), prints {"closed":N}
//   ping   writes one byte on every connection and waits for its echo (or its close), prints
//          {"pinged":N,"lost":M}: N echoed, M closed instead (e.g. reset after an accept-queue overflow)
import net from 'node:net';
import { createInterface } from 'node:readline';

const [mode, host, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'server') {
  let open = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    open++;
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
    s.on('error', () => {});
    s.on('close', () => open--);
  });
  server.maxConnections = 1 << 20;
  server.listen({ host, port, backlog: 4096 }, () => say({ listening: true }));
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() === 'count') say({ open });
  });
} else if (mode === 'client') {
  const total = Number(countText);
  const sockets = [];
  const errors = {};
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  const openOne = () =>
    new Promise((resolve) => {
      const s = net.connect({ host, port });
      s.setNoDelay(true);
      s.once('connect', () => {
        sockets.push(s);
        s.on('error', () => {});
        resolve();
      });
      s.once('error', (e) => {
        failed++;
        errors[e.code ?? e.message] = (errors[e.code ?? e.message] ?? 0) + 1;
        resolve();
      });
    });
  const worker = async () => {
    while (next < total) {
      next++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(256, total) }, worker));
  say({ held: sockets.length, failed, errors, ms: Math.round(performance.now() - t0) });
  createInterface({ input: process.stdin }).on('line', async (l) => {
    const cmd = l.trim();
    if (cmd === 'close') {
      for (const s of sockets) s.destroy();
      say({ closed: sockets.length });
    } else if (cmd === 'ping') {
      const alive = sockets.filter((s) => !s.destroyed);
      const echoed = await Promise.all(
        alive.map(
          (s) =>
            new Promise((resolve) => {
              s.once('data', () => resolve(true));
              s.once('close', () => resolve(false));
              s.write('p');
            }),
        ),
      );
      const pinged = echoed.filter(Boolean).length;
      say({ pinged, lost: sockets.length - pinged });
    }
  });
} else {
  console.error('usage: hold-connections.mjs server HOST PORT | client HOST PORT N');
  process.exit(2);
}
