import { execFileSync } from 'node:child_process';
import { withNetnsEnvironment } from '@ztun/testkit';
import { it } from 'vitest';
import { PROXY4, routeIntoTun, SERVER4, setUpTopology, startDanted, startDnsmasq, startStack } from './env.js';

it('debug', { timeout: 120_000 }, async () => {
  await withNetnsEnvironment('dbg', ['client', 'server'], async (env) => {
    const { client, server } = setUpTopology(env);
    const dns = await startDnsmasq(server);
    const socks = await startDanted(server);
    const stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1080 });
    routeIntoTun(client, stack.tunName);
    const sh = (c: string) => { try { return execFileSync('ip', ['netns', 'exec', client.name, 'sh', '-c', c], { encoding: 'utf8', timeout: 30000 }); } catch (e) { return `ERR ${(e as Error).message} ${(e as {stdout?: string}).stdout}`; } };
    console.log(sh(`dig +short +time=2 +tries=1 @${SERVER4} test.ztun A 2>&1`));
    console.log(JSON.stringify(await stack.counters()));
    console.log(stack.proc.output());
    console.log(socks.proc.output().slice(-3000));
    await stack.stop();
    await socks.stop();
    await dns.stop();
  });
});
