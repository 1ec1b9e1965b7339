// Stack benchmarks in namespaces (printed, not asserted; compare ratios within one run):
// iperf3 throughput without a tunnel / through the stack with the direct outbound / through the stack with
// the socks5 outbound (danted); connections per second; stack RSS with 1k and 10k open connections.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Netns, netnsSkipReason, waitFor, withNetnsEnvironment } from '@ztun/testkit';
import { it } from 'vitest';
import { MARK, PROXY4, routeIntoTun, SERVER4, setUpTopology, startDanted, startStack } from '../test/env.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const skip = netnsSkipReason();

async function iperf(client: Netns, host: string, extra: string[] = []): Promise<number> {
  const r = await run(
    'ip',
    ['netns', 'exec', client.name, 'iperf3', '-c', host, '-t', String(SECONDS), '-J', ...extra],
    {
      maxBuffer: 64 << 20,
      timeout: (SECONDS + 30) * 1000,
    },
  );
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

it.skipIf(skip !== undefined)('stack benchmarks', async () => {
  await withNetnsEnvironment('bch', ['client', 'server'], async (env) => {
    const { client, server } = setUpTopology(env);
    const iperfd = server.spawn('iperf3', ['-s']);
    // UDP replies must come from the address the client sent to: a second server bound to it.
    const iperfUdp = server.spawn('iperf3', ['-s', '-p', '5202', '-B', SERVER4]);
    const sink = server.spawn('node', [join(here, 'fixtures-sink.mjs'), '9000']);
    const socks = await startDanted(server);
    await waitFor(
      'iperf3 -s',
      () => server.tryExec('ss', ['-Hltn', 'sport = :5201']).stdout.trim().length > 0,
    );
    await waitFor('sink', () => /LISTENING/.test(sink.output()));
    const results: string[] = [];
    const report = (s: string) => {
      results.push(s);
      console.log(s);
    };
    try {
      const base = await iperf(client, '10.201.0.2');
      report(`iperf3 no tunnel (veth):            ${base.toFixed(2)} Gbit/s`);
      const connRate = async (host: string) => {
        const r = await run('ip', [
          'netns',
          'exec',
          client.name,
          'node',
          join(here, 'fixtures-conn.mjs'),
          'rate',
          host,
          '9000',
          '3',
          '32',
        ]);
        return Number(/RATE ([\d.]+)/.exec(r.stdout)![1]);
      };
      const cpsBase = await connRate('10.201.0.2');
      report(`connections/s no tunnel:            ${cpsBase.toFixed(0)} (open+close, 32 in flight)`);

      let stack = await startStack(
        client,
        { kind: 'direct', mark: MARK },
        {
          nodeArgs: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [],
        },
      );
      routeIntoTun(client, stack.tunName);
      report(`stack RSS fresh:                    ${rssMiB(stack.proc.child.pid!).toFixed(1)} MiB`);
      const direct = await iperf(client, SERVER4);
      report(
        `iperf3 through stack, direct:       ${direct.toFixed(2)} Gbit/s (${((direct / base) * 100).toFixed(0)}% of no tunnel)`,
      );
      const directRev = await iperf(client, SERVER4, ['-R']);
      report(`iperf3 through stack, direct (-R):  ${directRev.toFixed(2)} Gbit/s`);

      const udp = await run(
        'ip',
        [
          'netns',
          'exec',
          client.name,
          'iperf3',
          '-J',
          '-u',
          '-b',
          '1G',
          '-l',
          '1400',
          '-p',
          '5202',
          '-c',
          SERVER4,
          '-t',
          String(SECONDS),
        ],
        { maxBuffer: 64 << 20, timeout: (SECONDS + 30) * 1000 },
      );
      // The client's JSON: end.sum is what was sent (lost_percent comes from the server's report).
      const uj = JSON.parse(udp.stdout) as {
        end: { sum: { bits_per_second: number; lost_percent: number } };
      };
      const u = {
        bits_per_second: uj.end.sum.bits_per_second * (1 - uj.end.sum.lost_percent / 100),
        lost_percent: uj.end.sum.lost_percent,
      };
      report(
        `iperf3 UDP 1G offered, 1400 B, direct: ${(u.bits_per_second / 1e6).toFixed(0)} Mbit/s received, ${u.lost_percent.toFixed(1)}% lost`,
      );
      const cps = await connRate(SERVER4);
      report(
        `connections/s through stack, direct: ${cps.toFixed(0)} (${((cps / cpsBase) * 100).toFixed(0)}% of no tunnel)`,
      );

      const pid = stack.proc.child.pid!;
      report(`stack RSS after the throughput runs: ${rssMiB(pid).toFixed(1)} MiB`);
      for (const n of [1000, 10000]) {
        const holder = client.spawn(
          'node',
          [join(here, 'fixtures-conn.mjs'), 'hold', SERVER4, '9000', String(n)],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        const line = await waitFor(
          `${n} connections open`,
          () => /OPEN (\d+) FAILED (\d+)/.exec(holder.output()),
          120_000,
        );
        await new Promise((r) => setTimeout(r, 1000));
        report(
          `stack RSS with ${String(n).padStart(5)} open connections: ${rssMiB(pid).toFixed(1)} MiB (opened ${line[1]}, failed ${line[2]})`,
        );
        holder.child.stdin!.end();
        await holder.stop();
        await new Promise((r) => setTimeout(r, 1500));
      }
      await stack.stop();
      client.ip('route', 'flush', '10.202.0.0/24');
      client.ip('-6', 'route', 'flush', 'fd00:202::/64');

      stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1080 });
      routeIntoTun(client, stack.tunName);
      const viaSocks = await iperf(client, SERVER4);
      report(`iperf3 through stack, socks5/danted: ${viaSocks.toFixed(2)} Gbit/s`);
      await stack.stop();
      console.log(`\n--- summary ---\n${results.join('\n')}`);
    } finally {
      await socks.stop();
      await iperfd.stop();
      await iperfUdp.stop();
      await sink.stop();
    }
  });
});
