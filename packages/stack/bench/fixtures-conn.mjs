// Connection benchmark helper, run inside the client namespace.
// argv: mode ('rate' | 'hold'), host, port, n/seconds, concurrency
import net from 'node:net';

const [mode, host, portText, amountText, concText] = process.argv.slice(2);
const port = Number(portText);
if (mode === 'rate') {
  // Open+close connections for `seconds` with `concurrency` in flight; print connections/s.
  const seconds = Number(amountText);
  const conc = Number(concText ?? 32);
  let done = 0;
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.end();
      });
      s.on('error', () => {
        failed++;
        resolve();
      });
      s.on('close', () => {
        done++;
        resolve();
      });
      s.resume();
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  console.log(`RATE ${(done - failed) / secs} FAILED ${failed}`);
} else {
  // Open `n` connections and hold them; print OPEN when all are up; exit on stdin close.
  const n = Number(amountText);
  const socks = [];
  let open = 0;
  let failed = 0;
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from(
        { length: Math.min(batch, n - i) },
        () =>
          new Promise((resolve) => {
            const s = net.connect({ host, port }, () => {
              open++;
              resolve();
            });
            s.on('error', () => {
              failed++;
              resolve();
            });
            socks.push(s);
          }),
      ),
    );
  }
  console.log(`OPEN ${open} FAILED ${failed}`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
}
