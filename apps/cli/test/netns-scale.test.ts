import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Netns,
  type NetnsEnvironment,
  netnsSkipReason,
  type SpawnedInNetns,
  skipWhen,
  waitFor,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { startZtun } from './helpers.js';

// Issue 17 items 1 and 5, through the real tunnel in namespaces of its own (tag "pf"): client (runs ztun,
// --auto-route) ↔ veth 10.231.0.0/30 ↔ server, whose loopback holds 10.232.0.2 with a server that holds
// every connection it accepts (scripts/hold-connections.mjs). ztun's fds are counted in /proc/PID/fd.

const skip = netnsSkipReason();
const HOLD = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts', 'hold-connections.mjs');
const SERVER = '10.232.0.2';
const PORT = 9100;

const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

function jsonLines(p: SpawnedInNetns): Record<string, unknown>[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const line = (p: SpawnedInNetns, key: string, ms: number) =>
  waitFor(`holder ${key}`, () => jsonLines(p).find((l) => key in l), ms);

async function withScaleTopology(fn: (client: Netns) => Promise<void>): Promise<void> {
  await withNetnsEnvironment('pf', ['client', 'server'], async (env: NetnsEnvironment) => {
    const { client, server } = env.ns as { client: Netns; server: Netns };
    env.link('client', 'server', { addrA: ['10.231.0.1/30'], addrB: ['10.231.0.2/30'] });
    server.ip('addr', 'add', `${SERVER}/32`, 'dev', 'lo');
    client.ip('-4', 'route', 'add', 'default', 'via', '10.231.0.2');
    const holder = server.spawn(process.execPath, [HOLD, 'server', SERVER, String(PORT)]);
    await line(holder, 'listening', 10_000);
    await fn(client);
  });
}

/**
 * Opens `n` connections through ztun from `client`, waits until each echoed a byte (relayed end to end) or
 * closed: on a loaded machine a few of 9,000 can overflow the kernel listener's accept queue (4096) while
 * ztun is descheduled, and those are reset (`lost`), which is not what the mass-close test is about.
 */
async function hold(client: Netns, n: number, allowLost = false): Promise<SpawnedInNetns> {
  const p = client.spawn(process.execPath, [HOLD, 'client', SERVER, String(PORT), String(n)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const held = await line(p, 'held', 240_000);
  expect(held).toMatchObject({ held: n, failed: 0 });
  p.child.stdin!.write('ping\n');
  const pinged = (await line(p, 'pinged', 240_000)) as { pinged: number; lost: number };
  if (!allowLost) expect(pinged).toEqual({ pinged: n, lost: 0 });
  else console.log(`[scale] ${pinged.pinged} of ${n} held (${pinged.lost} reset at the accept queue)`);
  return p;
}

/** Client sockets to the holder in any state but TIME-WAIT. */
function clientSocketsLeft(client: Netns): number {
  const out = client.exec('ss', ['-Htn', 'state', 'all', `dport = :${PORT}`]);
  return out.split('\n').filter((l) => l.trim() && !l.startsWith('TIME-WAIT')).length;
}

describe('ztun at scale (namespaces)', skipWhen(skip), () => {
  it('an idle relayed connection holds two fds in ztun (its two sockets), with the splice relay and without', async () => {
    await withScaleTopology(async (client) => {
      for (const args of [[], ['--no-splice']]) {
        const z = await startZtun(client, [
          '--auto-route',
          '--proxy',
          'direct',
          '--stats-interval',
          '0',
          ...args,
        ]);
        const pid = z.proc.child.pid!;
        const before = fdsOf(pid);
        const N = 1000;
        const holder = await hold(client, N);
        const perConnection = (fdsOf(pid) - before) / N;
        console.log(
          `[scale] ztun ${args.join(' ') || '(splice)'}: ${perConnection.toFixed(3)} fds per idle connection`,
        );
        // Was ~8 with the splice relay (2 dups and 2 pipes a connection on top of the sockets).
        expect(perConnection).toBeLessThanOrEqual(2.02);
        await holder.stop();
        await waitFor('every connection released', () => fdsOf(pid) - before <= 4, 60_000);
        expect(await z.proc.stop(10_000)).toBe(0);
      }
    });
  }, 300_000);

  it('9,000 connections held with --no-splice and closed at once are all released', async () => {
    await withScaleTopology(async (client) => {
      const z = await startZtun(client, [
        '--auto-route',
        '--proxy',
        'direct',
        '--stats-interval',
        '0',
        '--no-splice',
      ]);
      const pid = z.proc.child.pid!;
      const before = fdsOf(pid);
      const holder = await hold(client, 9000, true);
      const t0 = Date.now();
      holder.child.stdin!.write('close\n');
      await line(holder, 'closed', 30_000);
      // A condition with a generous bound, not a timing assertion: the figure is printed. Stranded
      // connections (ztun's side established for the 1-hour idle timeout) never get there.
      await waitFor(
        'every connection released (ztun fds back, no client socket but TIME-WAIT)',
        () => fdsOf(pid) - before <= 4 && clientSocketsLeft(client) === 0,
        90_000,
        250,
      );
      console.log(`[scale] 9,000 closed at once: all released after ${Date.now() - t0} ms`);
      await holder.stop();
      expect(await z.proc.stop(10_000)).toBe(0);
    });
  }, 600_000);
});
