import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { withNetnsEnvironment } from '@ztun/testkit';
import { it } from 'vitest';
import { MARK, routeIntoTun, SERVER4, setUpTopology, startStack } from './env.js';

const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
it('debug', { timeout: 120_000 }, async () => {
  await withNetnsEnvironment('dbg', ['client', 'server'], async (env) => {
    const { client, server } = setUpTopology(env);
    const iperfd = server.spawn('iperf3', ['-s']);
    await new Promise((r) => setTimeout(r, 500));
    const ip = (host: string, extra: string[] = []) => { const o = JSON.parse(execFileSync('ip', ['netns', 'exec', client.name, 'iperf3', '-J', '-c', host, '-t', '4', ...extra], { encoding: 'utf8' })); return (o.end.sum_received.bits_per_second / 1e9).toFixed(2); };
    console.log('base', ip('10.201.0.2'));
    const stack = await startStack(client, { kind: 'direct', mark: MARK }, { nodeArgs: process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/stackprof'] : [] });
    routeIntoTun(client, stack.tunName);
    const pid = stack.proc.child.pid!;
    for (const extra of [[], ['-P', '4'], ['-R']]) {
      const c0 = cpu(pid); const t0 = Date.now();
      const r = ip(SERVER4, extra);
      console.log('stack', extra.join(' '), r, 'cpu', ((cpu(pid) - c0) / ((Date.now() - t0) / 1000)).toFixed(2));
    }
    console.log('base again', ip('10.201.0.2'));
    await stack.stop();
    await iperfd.stop();
  });
});
