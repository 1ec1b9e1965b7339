import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  type Netns,
  type NetnsEnvironment,
  netnsSkipReason,
  skipWhen,
  waitFor,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { startZtun } from './helpers.js';

// `ztun run --proxy direct` must never relay into its own TUN (issue 10): a datagram or SYN to an unused
// address of the TUN's prefixes used to be sent by the marked outbound socket along main's connected route
// straight back into ztun0, each pass a new session, at 100 % CPU until stopped. Client namespace (ztun)
// ↔ veth ↔ server namespace; nothing needs to answer on the server side.

const run = promisify(execFile);
const skip = netnsSkipReason();

interface Stats {
  udpOpen: number;
  tcpOpen: number;
  packetsOut: number;
  dropsByReason?: Record<string, number>;
}
const statsLines = (output: string): Stats[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Stats);

/** One datagram from a connected UDP socket; `ERR <code>` when an ICMP error comes back, else `NOTHING`. */
async function udpProbe(ns: Netns, host: string, port: number): Promise<string> {
  const script = `const s=require('node:dgram').createSocket(require('node:net').isIPv6('${host}')?'udp6':'udp4');
s.on('error',(e)=>{console.log('ERR '+e.code);process.exit(0)});
s.connect(${port},'${host}',()=>s.send('x'));
setTimeout(()=>{console.log('NOTHING');process.exit(0)},3000);`;
  return (await run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script])).stdout.trim();
}

describe('ztun loop protection in namespaces', skipWhen(skip), () => {
  it('--proxy direct: a datagram or SYN to an unused TUN address (IPv4 and IPv6) is refused and counted as loop; nothing circulates', async () => {
    await withNetnsEnvironment('skc', ['client', 'server'], async (env: NetnsEnvironment) => {
      const client = env.ns.client!;
      env.link('client', 'server', {
        addrA: ['10.211.0.1/30', 'fd00:211::1/64'],
        addrB: ['10.211.0.2/30', 'fd00:211::2/64'],
      });
      client.ip('-4', 'route', 'add', 'default', 'via', '10.211.0.2');
      client.ip('-6', 'route', 'add', 'default', 'via', 'fd00:211::2');
      const z = await startZtun(client, [
        '--proxy',
        'direct',
        '--route',
        '10.212.0.0/24',
        '--address',
        '198.18.0.1/15',
        '--address',
        'fd00:18::1/64',
        '--stats-interval',
        '100ms',
      ]);
      try {
        const one = await udpProbe(client, '198.18.5.5', 9);
        const printed = statsLines(z.output()).length;
        const first = await waitFor('a stats line after the datagram', () =>
          statsLines(z.output()).at(printed),
        );
        console.log(
          `[cli loop] one datagram to 198.18.5.5:9 → "${one}"; udpOpen ${first.udpOpen}, packets read ${first.packetsOut}, loop ${first.dropsByReason?.loop ?? 0}`,
        );
        expect(one, 'the client gets an ICMP error').toMatch(/^ERR /);
        expect(await udpProbe(client, 'fd00:18::5', 9), 'IPv6').toMatch(/^ERR /);
        for (const url of ['http://198.18.5.5:80/', 'http://[fd00:18::5]:80/']) {
          const r = client.tryExec('curl', ['-sS', '-m', '5', '-o', '/dev/null', url]);
          expect(r.status, `${url}: ${r.stderr}`).toBe(7); // a RST answered the SYN
        }
        const refused = await waitFor('the four refusals in the stats', () =>
          statsLines(z.output()).find((s) => (s.dropsByReason?.loop ?? 0) >= 4),
        );
        // Two pings to a routed address (answered by the stack) and three more stats lines later, the stack
        // has read the two requests and nothing else.
        expect(client.tryExec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.212.0.99']).status).toBe(0);
        const seen = statsLines(z.output()).length;
        const later = await waitFor('three more stats lines', () => statsLines(z.output()).at(seen + 2));
        console.log(`[cli loop] later: udpOpen ${later.udpOpen}, packets read ${later.packetsOut}`);
        expect(later.packetsOut - refused.packetsOut, 'packets read around two pings').toBeLessThanOrEqual(6);
        expect(later.udpOpen).toBe(0);
        expect(later.tcpOpen).toBe(0);
      } finally {
        expect(await z.proc.stop(10_000)).toBe(0);
      }
    });
  });
});
