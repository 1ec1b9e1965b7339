// Issue 13 item 3: the real macOS composition (platform/darwin.ts → tunnel.darwin.ts → RouteClient,
// RouteMonitor, UtunDevice, the stack) run on Linux against @ztun/testkit's simulated XNU (xnu-mac.ts).
// Nothing here ran on a Mac: it proves the composition against a model of XNU's documented semantics.
import { RouteClient } from '@ztun/routing-darwin';
import { netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { parseCidr } from '../src/cidr.js';
import { createDarwinPlatform } from '../src/platform/darwin.js';
import { RunRefused } from '../src/platform/types.js';
import { darwinConfig, SERVER6, startLoopbackSocks, tcpEcho, udpEcho, withMac } from './xnu-mac.js';

// RTF_UP|RTF_GATEWAY|RTF_STATIC|RTF_PROTO1 (+RTF_IFSCOPE), and interface routes without RTF_GATEWAY.
const SCOPED = 'flags 0x1008803';
const BYPASS = 'flags 0x8803';
const INTO_UTUN = 'flags 0x8801';
const OLD_DEFAULT = '0.0.0.0/0 via 192.168.64.1 dev en0 flags 0x803';
const NEW_DEFAULT = '0.0.0.0/0 via 10.77.0.1 dev en5 flags 0x803';

const planned = (utun: string, egress: 'en0' | 'en5') => {
  const gw = egress === 'en0' ? '192.168.64.1' : '10.77.0.1';
  return [
    `0.0.0.0/0 via ${gw} dev ${egress} ifscope ${egress} ${SCOPED}`,
    `10.0.0.0/8 via ${gw} dev ${egress} ${BYPASS}`,
    `0.0.0.0/1 via link#${utun} dev ${utun} ${INTO_UTUN}`,
    `128.0.0.0/1 via link#${utun} dev ${utun} ${INTO_UTUN}`,
    `198.18.0.0/15 via link#${utun} dev ${utun} flags 0x1`,
  ];
};
const sorted = (lines: string[]) => [...lines].sort();

describe(
  'ztun on macOS against the simulated XNU (Linux CI; no Mac involved)',
  skipWhen(netnsSkipReason()),
  () => {
    it('start → exactly the planned routes → TCP and UDP through the utun → default moves → re-pinned → SIGTERM → table as before', async () => {
      await withMac(async (mac) => {
        const before = mac.xnu.snapshot();
        const { host } = mac.process(4242);
        mac.xnu.failWrites(2); // an ENOBUFS burst on the first route writes: retried, not fatal
        const tunnel = createDarwinPlatform(host).createTunnel(
          darwinConfig({ excludes: [parseCidr('10.0.0.0/8')] }),
          { proxyAddresses: [], log: mac.log },
        );
        const info = await tunnel.ready;
        expect(info.name).toBe('utun4'); // utun0-3 are macOS's; the kernel picked the first free unit
        // What tun-darwin's ioctls set, as the model decoded their ifreq / ifaliasreq bytes.
        const utunIf = mac.xnu.interfaces.get(info.index)!;
        expect([utunIf.name, utunIf.mtu, utunIf.up, utunIf.addresses]).toEqual([
          'utun4',
          1500,
          true,
          ['198.18.0.1/15'],
        ]);
        expect(mac.xnu.snapshot()).toEqual(sorted([...before, ...planned('utun4', 'en0')]));
        // Unscoped lookups go into the utun; lookups scoped to en0 (IP_BOUND_IF) leave through en0.
        expect(mac.xnu.nameOf(mac.xnu.lookup('203.0.113.10')!.ifIndex)).toBe('utun4');
        const scoped = mac.xnu.lookup('203.0.113.10', 'en0')!;
        expect([mac.xnu.nameOf(scoped.ifIndex), scoped.scope]).toEqual(['en0', mac.en0]);
        expect(mac.xnu.nameOf(mac.xnu.lookup('10.1.2.3')!.ifIndex)).toBe('en0');

        expect(await tcpEcho('tcp through utun4 and back')).toBe('tcp through utun4 and back');
        expect(await udpEcho('udp through utun4 and back')).toBe('udp through utun4 and back');
        expect(mac.pins.length).toBeGreaterThanOrEqual(2);
        expect(new Set(mac.pins)).toEqual(new Set([mac.en0])); // every outbound socket IP_BOUND_IF to en0
        expect(mac.badFrames()).toBe(0);

        // The monitor's socket overflows (messages lost): ztun re-reads the defaults, finds nothing moved.
        mac.xnu.overflowAll();
        // Wi-Fi → Ethernet: configd moves the unscoped default to en5; ztun must follow it.
        const pinsBefore = mac.pins.length;
        mac.xnu.setDefault(4, '10.77.0.1', 'en5', { alsoScoped: false });
        const after = sorted(before.map((l) => (l === OLD_DEFAULT ? NEW_DEFAULT : l)));
        await waitFor(
          'the scoped default and the bypass to follow en5',
          () =>
            JSON.stringify(mac.xnu.snapshot()) ===
            JSON.stringify(sorted([...after, ...planned('utun4', 'en5')])),
        );
        expect(mac.lines.filter((l) => l.includes('default route moved'))).toHaveLength(1);
        expect(await tcpEcho('after the move')).toBe('after the move');
        expect(new Set(mac.pins.slice(pinsBefore))).toEqual(new Set([mac.en5]));

        const closed = await tunnel.close('SIGTERM');
        expect(closed.clean).toBe(true);
        expect(mac.xnu.snapshot()).toEqual(after);
        expect(mac.xnu.indexOf('utun4')).toBeUndefined();
      });
    });

    it('SIGKILL mid-run: the utun and its routes go with the process; `ztun cleanup` (or the next start) removes the tagged rest', async () => {
      await withMac(async (mac) => {
        const before = mac.xnu.snapshot();
        const run = mac.process(4243);
        const config = darwinConfig({ excludes: [parseCidr('10.0.0.0/8')] });
        const tunnel = createDarwinPlatform(run.host).createTunnel(config, {
          proxyAddresses: [],
          log: mac.log,
        });
        await tunnel.ready;
        await run.proc.kill();
        const left = mac.xnu.snapshot().filter((l) => !before.includes(l));
        expect(sorted(left)).toEqual(sorted(planned('utun4', 'en0').slice(0, 2))); // scoped default + bypass
        const lock = mac.process(4244);
        expect(await createDarwinPlatform(lock.host).cleanup({ log: mac.log, name: 'ztun0' })).toBe(0);
        expect(mac.xnu.snapshot()).toEqual(before);
        await tunnel.close('after the kill'); // frees this test process's listeners; the dead process changes nothing
        expect(mac.xnu.snapshot()).toEqual(before);

        // Killed again, and this time the next start (not cleanup) finds the leftovers and removes them.
        const second = mac.process(4245);
        const t2 = createDarwinPlatform(second.host).createTunnel(config, {
          proxyAddresses: [],
          log: mac.log,
        });
        await t2.ready;
        await second.proc.kill();
        await t2.close('after the kill');
        const t3 = createDarwinPlatform(mac.process(4246).host).createTunnel(config, {
          proxyAddresses: [],
          log: mac.log,
        });
        expect((await t3.ready).name).toBe('utun4');
        const flushed = 'removed what an earlier run left behind: 1 scoped default(s), 1 route(s)';
        expect(mac.lines.filter((l) => l.includes(flushed))).toHaveLength(1);
        expect(mac.xnu.snapshot()).toEqual(sorted([...before, ...planned('utun4', 'en0')]));
        await t3.close();
        expect(mac.xnu.snapshot()).toEqual(before);
      });
    });

    it('EEXIST half-way (another VPN owns 128.0.0.0/1): one line, and what was applied is undone', async () => {
      await withMac(async (mac) => {
        const vpn = mac.process(900);
        await new RouteClient(vpn.proc).addRoute({ destination: '128.0.0.0/1', interfaceIndex: mac.en5 });
        const before = mac.xnu.snapshot();
        const tunnel = createDarwinPlatform(mac.process(4255).host).createTunnel(darwinConfig(), {
          proxyAddresses: [],
          log: mac.log,
        });
        const err = await tunnel.ready.then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err).toBeInstanceOf(RunRefused);
        expect(err?.message).toMatch(/^a route for 128\.0\.0\.0\/1 already exists and is not ztun's/);
        expect(err?.message).not.toContain('\n');
        await tunnel.close();
        expect(mac.xnu.snapshot()).toEqual(before);
      });
    });

    it("refuses in one line: not root, a second ztun, no default route; macOS's own scoped default is reused and left", async () => {
      await withMac(async (mac) => {
        const refusal = async (pid: number, root: boolean) => {
          const t = createDarwinPlatform(mac.process(pid, { root }).host).createTunnel(darwinConfig(), {
            proxyAddresses: [],
            log: mac.log,
          });
          const e = await t.ready.then(
            () => undefined,
            (x: Error) => x,
          );
          await t.close();
          return e?.message;
        };
        expect(await refusal(10, false)).toMatch(/^ztun run needs root on macOS/);
        const held = mac.process(11).proc.lock();
        expect(await refusal(12, true)).toMatch(/^another ztun \(pid 11\) is running on this Mac/);
        if ('release' in held) held.release();
        mac.xnu.deleteDefault(4);
        expect(await refusal(14, true)).toMatch(/^no default route to pin ztun's own sockets to/);

        mac.xnu.setDefault(4, '192.168.64.1', 'en0'); // now with IPMonitor's own untagged scoped default
        const before = mac.xnu.snapshot();
        const t = createDarwinPlatform(mac.process(13).host).createTunnel(darwinConfig(), {
          proxyAddresses: [],
          log: mac.log,
        });
        await t.ready;
        expect(await tcpEcho('over the reused scoped default')).toBe('over the reused scoped default');
        await t.close();
        expect(mac.xnu.snapshot()).toEqual(before);
      });
    });

    it('--name utun7; a SOCKS5 server on loopback (ssh -D) is used unpinned and gets no bypass route', async () => {
      await withMac(async (mac) => {
        const socks = await startLoopbackSocks();
        try {
          const before = mac.xnu.snapshot();
          const config = darwinConfig({
            name: 'utun7',
            proxy: { kind: 'socks5', host: '127.0.0.1', port: socks.port },
          });
          const t = createDarwinPlatform(mac.process(15).host).createTunnel(config, {
            proxyAddresses: ['127.0.0.1'],
            log: mac.log,
          });
          expect((await t.ready).name).toBe('utun7'); // --name utun7: sc_unit 8
          expect(mac.xnu.snapshot().filter((l) => l.startsWith('127.0.0.1/32'))).toEqual([]);
          expect(await tcpEcho('through the local proxy')).toBe('through the local proxy');
          expect(socks.asked).toContain('203.0.113.10:8080'); // after the start-up check's probe
          await t.close();
          expect(mac.xnu.snapshot()).toEqual(before);
        } finally {
          await socks.close();
        }
      });
    });

    it("IPv4 + IPv6: a scoped default and a split per family, the utun's IPv6 address, TCP over IPv6 pinned with IPV6_BOUND_IF", async () => {
      await withMac(async (mac) => {
        mac.xnu.setDefault(6, 'fd00:64::1', 'en0', { alsoScoped: false });
        const before = mac.xnu.snapshot();
        const addresses = ['198.18.0.1/15', 'fd00:7a74::1/64'].map((a) => parseCidr(a));
        const t = createDarwinPlatform(mac.process(16).host).createTunnel(darwinConfig({ addresses }), {
          proxyAddresses: [],
          log: mac.log,
        });
        const info = await t.ready;
        expect(mac.xnu.interfaces.get(info.index)!.addresses).toEqual(['198.18.0.1/15', 'fd00:7a74::1/64']);
        const added = mac.xnu.snapshot().filter((l) => !before.includes(l));
        expect(sorted(added)).toEqual(
          sorted([
            ...planned('utun4', 'en0').filter((l) => !l.startsWith('10.0.0.0/8')),
            `::/0 via fd00:64::1 dev en0 ifscope en0 ${SCOPED}`,
            `::/1 via link#utun4 dev utun4 ${INTO_UTUN}`,
            `8000::/1 via link#utun4 dev utun4 ${INTO_UTUN}`,
            'fd00:7a74::/64 via link#utun4 dev utun4 flags 0x1',
          ]),
        );
        expect(mac.xnu.lookup(SERVER6, 'en0')).toMatchObject({ scope: mac.en0, prefixLength: 0 });
        expect(await tcpEcho('tcp over ipv6', SERVER6)).toBe('tcp over ipv6');
        expect(new Set(mac.pins)).toEqual(new Set([mac.en0]));
        await t.close();
        expect(mac.xnu.snapshot()).toEqual(before);
      });
    });
  },
);
