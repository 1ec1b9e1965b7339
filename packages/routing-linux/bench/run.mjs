// Benchmarks for @ztun/routing-linux. Prints figures; asserts nothing. Needs `npx tsup` (dist/) first.
// 1. Pure codec: encode route requests, decode a route dump.
// 2. Kernel (root + `ip netns` only): add N routes, dump them, flush them, through RtNetlink inside a
//    throwaway namespace; `ip -batch` adding the same routes is printed alongside as a reference.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, netnsSkipReason, runInNetns } from '@ztun/testkit';
import { MessageBuilder, parseMessages, RtNetlink } from '../dist/index.js';

const N = Number(process.env.ROUTES ?? 2000);
const fmt = (n) => Math.round(n).toLocaleString('en-US');

function time(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}

function route(i) {
  return { dst: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, oif: 2, table: 1000, metric: 10 };
}

// ---- 1. codec, via a fake transport that answers every request with an ack / a canned dump ----
{
  const PORT = 7;
  const ack = (seq) => {
    const e = new Uint8Array(4);
    return new MessageBuilder(2, 0)
      .struct(e)
      .struct(new MessageBuilder(0, 0).finish(seq, PORT))
      .finish(seq, PORT);
  };
  let routeBytes;
  let dumpPayloads; // built once, replayed with the request's sequence number patched in
  const transport = {
    portId: PORT,
    inbox: [],
    send(m) {
      const [req] = parseMessages(m);
      if (req.type === 26 && dumpPayloads) {
        for (const d of dumpPayloads) {
          const c = d.slice();
          const v = new DataView(c.buffer);
          for (let o = 0; o < c.length; o += (v.getUint32(o, true) + 3) & ~3)
            v.setUint32(o + 8, req.seq, true);
          this.inbox.push(c);
        }
      } else if (req.type === 26) {
        // Route dump: N routes in 32 KiB datagrams, then DONE.
        const msgs = [];
        for (let i = 0; i < N; i++) {
          const payload = routeBytes[i % routeBytes.length];
          msgs.push(new MessageBuilder(24, 2).struct(payload).finish(req.seq, PORT));
        }
        let cur = [];
        let size = 0;
        const flush = () => {
          const d = new Uint8Array(size);
          let o = 0;
          for (const x of cur) {
            d.set(x, o);
            o += x.length;
          }
          this.inbox.push(d);
          cur = [];
          size = 0;
        };
        for (const x of msgs) {
          if (size + x.length > 32768) flush();
          cur.push(x);
          size += x.length;
        }
        cur.push(new MessageBuilder(3, 2).struct(new Uint8Array(4)).finish(req.seq, PORT));
        size += 20;
        flush();
        dumpPayloads = this.inbox.slice();
      } else {
        if (!routeBytes) routeBytes = [];
        if (routeBytes.length < 256) routeBytes.push(req.payload.slice());
        this.inbox.push(ack(req.seq));
      }
    },
    receive() {
      return this.inbox.shift();
    },
    close() {},
  };
  const nl = RtNetlink.open({ transport });
  const ITER = 50000;
  for (let i = 0; i < 2000; i++) nl.addRoute(route(i)); // warm-up, fills routeBytes
  const add = time(() => {
    for (let i = 0; i < ITER; i++) nl.addRoute(route(i));
  });
  nl.listRoutes(); // builds the canned dump
  const dump = time(() => {
    let n = 0;
    for (let k = 0; k < 10; k++) n += nl.listRoutes().length;
    return n;
  });
  console.log(
    `codec  route add (validate + encode + ack decode, fake transport): ${fmt(ITER / (add.ms / 1000))} req/s`,
  );
  console.log(
    `codec  route dump decode (fake transport, ${N} routes x10): ${fmt(dump.r / (dump.ms / 1000))} routes/s`,
  );
}

// ---- 2. the kernel, inside a namespace ----
const skip = netnsSkipReason();
if (skip) {
  console.log(`kernel benchmarks skipped: ${skip}`);
} else {
  const ns = createNetns('rlb');
  const dir = mkdtempSync(join(tmpdir(), 'ztun-rl-bench-'));
  try {
    ns.ip('tuntap', 'add', 'zt0', 'mode', 'tun');
    ns.ip('link', 'set', 'zt0', 'up');
    const nl = runInNetns(ns, () => RtNetlink.open());
    const index = nl.getLink('zt0').index;
    const specs = Array.from({ length: N }, (_, i) => ({ ...route(i), oif: index }));
    // Warm-up round (JIT, the kernel's table allocation), then the measured one.
    for (const s of specs) nl.addRoute(s);
    nl.flushZtun();
    const add = time(() => {
      for (const s of specs) nl.addRoute(s);
    });
    const dump = time(() => nl.listRoutes({ table: 1000 }).length);
    const flush = time(() => nl.flushZtun().routes);
    if (dump.r !== N || flush.r !== N)
      throw new Error(`expected ${N} routes, dumped ${dump.r}, flushed ${flush.r}`);
    const batch = join(dir, 'routes.batch');
    writeFileSync(
      batch,
      specs.map((s) => `route add ${s.dst} dev zt0 table 1000 metric 10 proto 122\n`).join(''),
    );
    const ip = time(() => spawnSync('ip', ['-n', ns.name, '-batch', batch], { stdio: 'ignore' }).status);
    if (ip.r !== 0) throw new Error('ip -batch failed');
    const flush2 = time(() => nl.flushZtun().routes);
    nl.close();
    console.log(
      `kernel RtNetlink addRoute x${N}: ${fmt(N / (add.ms / 1000))} routes/s (${add.ms.toFixed(1)} ms)`,
    );
    console.log(`kernel RtNetlink listRoutes (${N} in table 1000): ${dump.ms.toFixed(1)} ms`);
    console.log(
      `kernel RtNetlink flushZtun (${N}): ${fmt(N / (flush.ms / 1000))} routes/s (${flush.ms.toFixed(1)} ms)`,
    );
    console.log(
      `kernel reference: ip -batch route add x${N}: ${fmt(N / (ip.ms / 1000))} routes/s (${ip.ms.toFixed(1)} ms, includes process start); flush again ${flush2.r}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await ns.dispose();
  }
}
