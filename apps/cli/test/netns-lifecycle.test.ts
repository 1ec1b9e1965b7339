import { statSync } from 'node:fs';
import {
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  type SpawnedInNetns,
  skipWhen,
  waitFor,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { HTTP_PORT, SERVER, SOCKS, statsLines, withClTopology } from './cl-topology.js';
import { bin, curl, netState, startZtun } from './helpers.js';

// Issue 10 item 7: the per-namespace lock under concurrent starts, SIGTERM while the start-up proxy check
// waits on a proxy that never answers, and packets the kernel drops at the TUN's own queue.

// strace widens the lock's race window (below); `pnpm test:setup` installs it.
const skip = netnsSkipReason() ?? missingCommandsReason(['strace']);

/**
 * `ztun run ARGS` in `ns`, under strace: every open(2) of the namespace's lock file is delayed by 300 ms
 * (fault injection, the traced process keeps its PID): concurrent starts then reach the lock at the same
 * time, so a check-then-write lock lets several through, where an atomic one still lets exactly one.
 */
function spawnSlowLock(ns: Netns, args: readonly string[]): SpawnedInNetns {
  const run = [bin, 'run', ...args];
  const lockFile = `/run/ztun/${statSync(`/run/netns/${ns.name}`).ino}.pid`;
  return ns.spawn('strace', [
    '-D',
    '-f',
    '-qq',
    '--seccomp-bpf',
    '-e',
    'trace=openat',
    '-e',
    'inject=openat:delay_enter=300000',
    '-P',
    lockFile,
    '-o',
    '/dev/null',
    '--',
    process.execPath,
    ...run,
  ]);
}

describe('ztun lifecycle (namespaces)', skipWhen(skip), () => {
  it('concurrent starts in one namespace: exactly one wins, the rest are refused; a killed winner is taken over', async () => {
    await withClTopology(async (client) => {
      const before = netState(client);
      const ROUNDS = 3;
      const STARTERS = 4;
      for (let round = 0; round < ROUNDS; round++) {
        // Distinct names, prefixes and tables: nothing but the lock stops a second one.
        const starters: SpawnedInNetns[] = [];
        for (let i = 0; i < STARTERS; i++) {
          starters.push(
            spawnSlowLock(client, [
              '--name',
              `zcl${i}`,
              '--route',
              `10.23${i}.0.0/16`,
              '--table',
              String(1000 + i),
              '--stats-interval',
              '0',
            ]),
          );
        }
        const ready = () => starters.filter((s) => s.output().includes('ztun: ready:'));
        // Every starter either refuses (exits) or gets ready.
        await waitFor(
          'every starter ready or refused',
          () => starters.every((s) => s.child.exitCode !== null || s.output().includes('ztun: ready:')),
          30_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${starters.map((s) => s.output()).join('\n---\n')}`);
        });
        const winners = ready();
        const losers = starters.filter((s) => !winners.includes(s));
        const summary = starters.map((s) => s.output().trim()).join('\n---\n');
        expect(winners.length, summary).toBe(1);
        for (const l of losers) {
          expect(await l.exited).toBe(1);
          expect(l.output()).toMatch(
            /another ztun (\(pid \d+\) )?is (running|starting) in this network namespace/,
          );
        }
        const winner = winners[0]!;
        if (round < ROUNDS - 1) {
          expect(await winner.stop(10_000)).toBe(0);
        } else {
          // A SIGKILLed owner's lock is stale: the next start takes it over.
          winner.child.kill('SIGKILL');
          await winner.exited;
          const next = await startZtun(client, ['--route', '10.230.0.0/16', '--stats-interval', '0']);
          expect(await next.proc.stop(10_000)).toBe(0);
        }
        expect(netState(client)).toEqual(before);
      }
    });
  });

  it('SIGTERM while the start-up proxy check waits on a proxy that never answers: no ready line, prompt clean exit', async () => {
    await withClTopology(async (client, server) => {
      // Accepts TCP, never says a word.
      const mute = server.spawn(process.execPath, [
        '-e',
        `const n=require('node:net');n.createServer(s=>{console.log('accepted');s.on('error',()=>{})}).listen(1080,'${SOCKS}',()=>console.log('listening'))`,
      ]);
      await waitFor('mute proxy listening', () => mute.output().includes('listening'));
      const before = netState(client);
      const z = client.spawn(process.execPath, [
        bin,
        'run',
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '0',
      ]);
      await waitFor(
        'ztun connected to the mute proxy',
        () => mute.output().includes('accepted'),
        20_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- ztun ---\n${z.output()}`);
      });
      const t0 = Date.now();
      z.child.kill('SIGTERM');
      const code = await z.exited;
      const ms = Date.now() - t0;
      console.log(`[lifecycle] SIGTERM during the proxy check: exit ${code} after ${ms} ms`);
      expect(code, z.output()).toBe(0);
      expect(z.output()).not.toContain('ready:');
      expect(z.output()).toMatch(/SIGTERM during start-up/);
      expect(netState(client)).toEqual(before);
    });
  });

  it("packets the kernel drops at the TUN's queue are counted in the stats and the stop line", async () => {
    await withClTopology(async (client) => {
      const z = await startZtun(client, ['--route', '10.222.0.0/24', '--stats-interval', '200ms']);
      // A one-packet queue and a burst of datagrams: the kernel drops what ztun has not read yet.
      client.ip('link', 'set', 'ztun0', 'txqueuelen', '1');
      const flood = client.tryExec(process.execPath, [
        '-e',
        `const s=require('node:dgram').createSocket('udp4');let n=0;const b=Buffer.alloc(1200);` +
          `const go=()=>{for(let i=0;i<500;i++)s.send(b,9,'${SERVER}');if((n+=500)<40000)setImmediate(go);else setTimeout(()=>process.exit(0),200)};go()`,
      ]);
      expect(flood.status, flood.stderr).toBe(0);
      const kernelDrops = () => {
        const [link] = client.ipJson<{ stats64: { tx: { dropped: number } } }[]>(
          '-s',
          'link',
          'show',
          'ztun0',
        );
        return link!.stats64.tx.dropped;
      };
      const dropped = kernelDrops();
      expect(dropped).toBeGreaterThan(0);
      await waitFor(
        'a stats line with the kernel queue drops',
        () =>
          statsLines<{ deviceQueueDrops?: number }>(z.output()).some(
            (s) => s.deviceQueueDrops === kernelDrops(),
          ),
        10_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; kernel says ${kernelDrops()}\n${z.output().slice(-2000)}`);
      });
      client.ip('link', 'set', 'ztun0', 'txqueuelen', '500');
      const finalDrops = kernelDrops();
      expect(curl(client, `http://${SERVER}:${HTTP_PORT}/`).body).toBe(`hello from ${SERVER}\n`);
      expect(await z.proc.stop(10_000)).toBe(0);
      expect(z.output()).toMatch(
        new RegExp(`stopped \\(.*; ${finalDrops} packets dropped at the TUN's kernel queue`),
      );
      console.log(`[lifecycle] txqueuelen 1, 40000 datagrams: ${finalDrops} dropped at the TUN queue`);
    });
  });
});
