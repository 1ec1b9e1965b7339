import {
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  skipWhen,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { CLIENT, HTTP_PORT, SERVER, SOCKS, startDantedBlocking } from './cl-topology.js';
import { startHttp, startZtun } from './helpers.js';

// Issue 16 item 1, the LAN-gateway case (README "Per-user and per-interface routing"): lan ↔ gw (runs ztun,
// ip_forward=1) ↔ server. --include-interface sends what gw forwards from the LAN into the tunnel (the
// server sees the proxy's address) while gw's own traffic goes around; --exclude-interface is the reverse.

const skip = netnsSkipReason() ?? missingCommandsReason(['danted', 'curl']);
const LAN_HOST = '10.230.0.2';
const LAN_GW = '10.230.0.1';
/** gw's LAN-side interface (testkit names veth ends v<n><role>). */
const GW_LAN_IF = 'v0gw';

async function withGateway(fn: (lan: Netns, gw: Netns) => Promise<void>): Promise<void> {
  await withNetnsEnvironment('pd', ['lan', 'gw', 'server'], async (env) => {
    const { lan, gw, server } = env.ns as Record<'lan' | 'gw' | 'server', Netns>;
    const { ifB } = env.link('lan', 'gw', { addrA: [`${LAN_HOST}/24`], addrB: [`${LAN_GW}/24`] });
    if (ifB !== GW_LAN_IF) throw new Error(`unexpected gateway interface ${ifB}`);
    env.link('gw', 'server', { addrA: [`${CLIENT}/30`], addrB: ['10.221.0.2/30'] });
    for (const a of [`${SOCKS}/32`, `${SERVER}/32`]) server.ip('addr', 'add', a, 'dev', 'lo');
    lan.ip('route', 'add', 'default', 'via', LAN_GW);
    gw.ip('route', 'add', 'default', 'via', '10.221.0.2');
    // The LAN is routed, not NATed: the server answers forwarded packets through gw.
    server.ip('route', 'add', 'default', 'via', CLIENT);
    gw.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await startHttp(server, HTTP_PORT, [SERVER]);
    await startDantedBlocking(server, 1080);
    await fn(lan, gw);
  });
}

const whoami = (ns: Netns): string => {
  const r = ns.tryExec('curl', ['-sS', '-m', '10', `http://${SERVER}:${HTTP_PORT}/whoami`]);
  if (r.status !== 0) throw new Error(`curl failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
};

describe(
  'LAN gateway: --include-interface / --exclude-interface (namespaces, real traffic)',
  skipWhen(skip),
  () => {
    it('--include-interface: forwarded LAN traffic enters the tunnel, the gateway’s own does not', async () => {
      await withGateway(async (lan, gw) => {
        expect(whoami(lan)).toBe(LAN_HOST);
        const z = await startZtun(gw, [
          '--auto-route',
          '--include-interface',
          GW_LAN_IF,
          '--proxy',
          `socks5://${SOCKS}:1080`,
          '--stats-interval',
          '0',
        ]);
        expect(whoami(lan)).toBe(SOCKS);
        expect(whoami(gw)).toBe(CLIENT);
        await z.proc.stop();
        expect(whoami(lan)).toBe(LAN_HOST);
      });
    });

    it('--exclude-interface: forwarded LAN traffic keeps the main table, the gateway’s own enters the tunnel', async () => {
      await withGateway(async (lan, gw) => {
        await startZtun(gw, [
          '--auto-route',
          '--exclude-interface',
          GW_LAN_IF,
          '--proxy',
          `socks5://${SOCKS}:1080`,
          '--stats-interval',
          '0',
        ]);
        expect(whoami(lan)).toBe(LAN_HOST);
        expect(whoami(gw)).toBe(SOCKS);
      });
    });

    it('forwarded packets are uid 0 to the routing rules: --exclude-uid 0 keeps them (and root) out', async () => {
      await withGateway(async (lan, gw) => {
        await startZtun(gw, [
          '--auto-route',
          '--exclude-uid',
          '0',
          '--proxy',
          `socks5://${SOCKS}:1080`,
          '--stats-interval',
          '0',
        ]);
        expect(whoami(lan)).toBe(LAN_HOST);
        expect(whoami(gw)).toBe(CLIENT);
      });
    });
  },
);
