#!/usr/bin/env node
// Where a held connection's memory goes (issue 17 item 2): ztun --proxy direct in the bench topology, N and
// then 2N idle relayed connections held, a V8 heap snapshot at 0, N and 2N (--heapsnapshot-signal; each
// snapshot starts with a full GC), and RSS / smaps_rollup at each point. Prints the per-connection heap by
// object kind ((2N snapshot − N snapshot) / N) and the native remainder (RSS growth minus heap growth).
//   sudo node apps/cli/bench/held-heap.mjs [--n 2000] [--ns-prefix zt] [--keep DIR] [-- ztun args…]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTopology, preflight, SERVER, waitUntil } from '../scripts/topology.mjs';
import { HOLD_PORT, rssMbOf, startHoldServer } from './held.mjs';

const HOLD = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts', 'hold-connections.mjs');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const extra = dash >= 0 ? argv.slice(dash + 1) : ['--proxy', 'direct'];
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && (dash < 0 || i < dash) ? argv[i + 1] : dflt;
};
const n = Number(opt('n', '2000'));
const keep = opt('keep', undefined);
// RSS without snapshots (a snapshot itself grows the process by about the heap's size).
const noSnapshot = argv.includes('--no-snapshot');
// With --no-snapshot: V8's heap spaces (committed / used) at each point, from a preload in ztun (SIGWINCH).
const SPACES_PRELOAD = `const v8 = require('node:v8'); const fs = require('node:fs');
process.on('SIGWINCH', () => { const m = process.memoryUsage(); const sp = {};
  for (const s of v8.getHeapSpaceStatistics()) sp[s.space_name] = [s.space_size, s.space_used_size];
  fs.writeFileSync(process.cwd() + '/spaces-' + Date.now() + '.json', JSON.stringify({ m, sp })); });`;

const problems = preflight();
if (problems.length) {
  console.error(`held-heap: ${problems.join('; ')}`);
  process.exit(1);
}

/** Aggregates a .heapsnapshot by node type + name: Map key → { count, size }. */
export function summarize(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const types = meta.node_types[iType];
  const nodes = snap.nodes;
  const strings = snap.strings;
  const out = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = type === 'object' || type === 'native' || type === 'closure' ? strings[nodes[i + iName]] : '';
    if (type === 'closure') name = `${name}()`;
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const size = nodes[i + iSize];
    total += size;
    const e = out.get(key);
    if (e) {
      e.count++;
      e.size += size;
    } else out.set(key, { count: 1, size });
  }
  return { byKind: out, total };
}

function memory(pid) {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0);
  return {
    rssMb: rssMbOf(pid),
    anonMb: kb('Anonymous') / 1024,
    fileMb: (kb('Rss') - kb('Anonymous')) / 1024,
  };
}

const dir = keep ?? mkdtempSync(join(tmpdir(), 'ztun-heap-'));
const topo = createTopology('hh', { nsPrefix: opt('ns-prefix', undefined) });
let failed = false;
try {
  process.chdir(dir); // ztun writes its snapshots into its working directory
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2`;
  if (noSnapshot) {
    writeFileSync(join(dir, 'spaces.cjs'), SPACES_PRELOAD);
    process.env.NODE_OPTIONS += ` --require ${join(dir, 'spaces.cjs')}`;
  }
  await startHoldServer(topo);
  const z = await topo.startZtun(['--auto-route', '--stats-interval', '0', ...extra]);
  const pid = z.child.pid;
  const snapshot = async (label) => {
    const clean = memory(pid);
    if (noSnapshot) {
      const before = new Set(readdirSync(dir));
      process.kill(pid, 'SIGWINCH');
      let file;
      await waitUntil('spaces', () => {
        file = readdirSync(dir).find((f) => f.startsWith('spaces-') && !before.has(f));
        return file !== undefined;
      });
      await new Promise((r) => setTimeout(r, 200));
      return { label, mem: clean, spaces: JSON.parse(readFileSync(join(dir, file), 'utf8')) };
    }
    const before = new Set(readdirSync(dir));
    process.kill(pid, 'SIGUSR2');
    let file;
    let size = -1;
    await waitUntil(
      `heap snapshot ${label}`,
      () => {
        file ??= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
        if (!file) return false;
        const now = statSync(join(dir, file)).size;
        const stable = now > 0 && now === size;
        size = now;
        return stable;
      },
      120_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    return { label, file: join(dir, file), mem: clean };
  };
  const hold = async (count) => {
    const c = topo.start(
      topo.client,
      process.execPath,
      [HOLD, 'client', SERVER, String(HOLD_PORT), String(count)],
      undefined,
      {
        stdin: true,
      },
    );
    await waitUntil('held', () => c.output().includes('"held"'), 300_000);
    c.child.stdin.write('ping\n');
    await waitUntil('pinged', () => c.output().includes('"pinged"'), 120_000);
    return c;
  };
  const points = [await snapshot('0')];
  const c1 = await hold(n);
  points.push(await snapshot(String(n)));
  const c2 = await hold(n);
  points.push(await snapshot(String(2 * n)));
  // All closed at once, then 30 s (ztun's reclaim after a mass close runs in between): the after-close point.
  c1.child.stdin.write('close\n');
  c2.child.stdin.write('close\n');
  await new Promise((r) => setTimeout(r, 30_000));
  points.push(await snapshot('closed + 30 s'));
  await c1.stop(2000);
  await c2.stop(2000);
  await z.stop(10_000);

  if (noSnapshot) {
    const mb = (b) => (b / 1048576).toFixed(1);
    for (const p of points) {
      const { m, sp } = p.spaces;
      const spaces = Object.entries(sp)
        .filter(([, [size]]) => size > 1048576)
        .map(([name, [size, used]]) => `${name} ${mb(size)}/${mb(used)}`)
        .join(', ');
      console.log(
        `held ${p.label}: RSS ${p.mem.rssMb.toFixed(1)} MB (anon ${p.mem.anonMb.toFixed(1)}); V8 heap ${mb(m.heapTotal)} committed / ${mb(m.heapUsed)} used (${spaces}); external ${mb(m.external)}`,
      );
    }
    const per = ((points[2].mem.rssMb - points[1].mem.rssMb) * 1048576) / n / 1024;
    console.log(`per connection (${n} → ${2 * n}): RSS ${per.toFixed(2)} KB`);
    process.exit(0);
  }
  const sums = points.map((p) => ({ ...p, ...summarize(p.file) }));
  for (const s of sums)
    console.log(
      `held ${s.label}: RSS ${s.mem.rssMb.toFixed(1)} MB (anon ${s.mem.anonMb.toFixed(1)}, file ${s.mem.fileMb.toFixed(1)}), heap objects ${(s.total / 1048576).toFixed(1)} MB`,
    );
  const [, a, b] = sums;
  const rssPer = ((b.mem.rssMb - a.mem.rssMb) * 1048576) / n;
  const heapPer = (b.total - a.total) / n;
  console.log(
    `per connection (${n} → ${2 * n}): RSS ${(rssPer / 1024).toFixed(2)} KB, V8 heap objects ${(heapPer / 1024).toFixed(2)} KB, rest (native, malloc, V8 slack) ${((rssPer - heapPer) / 1024).toFixed(2)} KB`,
  );
  const rows = [];
  for (const [key, e] of b.byKind) {
    const before = a.byKind.get(key) ?? { count: 0, size: 0 };
    const dc = (e.count - before.count) / n;
    const ds = (e.size - before.size) / n;
    if (Math.abs(ds) >= 8) rows.push({ key, dc, ds });
  }
  rows.sort((x, y) => y.ds - x.ds);
  console.log('| object kind | per connection: count | bytes |');
  console.log('| --- | ---: | ---: |');
  for (const r of rows.slice(0, 45)) console.log(`| ${r.key} | ${r.dc.toFixed(2)} | ${r.ds.toFixed(0)} |`);
} catch (err) {
  failed = true;
  console.error(`held-heap failed: ${err.stack}`);
} finally {
  topo.cleanup();
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
