// The Windows composition (platform/tunnel.windows.ts) on Linux, against stateful fakes of wintun.dll and
// iphlpapi (fake-windows.ts): apply → serve a UDP flow through the fake adapter and out of a socket bound to
// the physical address → undo to the same state; a killed run's leftovers removed by cleanup; one-line
// refusals that change nothing. What these fakes cannot show (Windows' own routing) is in the README.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { buildUdp } from '@ztun/packet';
import { skipWhen } from '@ztun/testkit';
import { isZtunRoute, WindowsRouting, win32Error } from '@ztun/tun-windows';
import koffi from 'koffi';
import { afterEach, describe, expect, it } from 'vitest';
import { createWintunApi } from '../../../packages/tun-windows/src/wintun.windows.js';
import {
  removeStandins,
  standinPath,
  standinSkipReason,
} from '../../../packages/tun-windows/test/standin.js';
import { resolveConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createWindowsTunnel } from '../src/platform/tunnel.windows.js';
import { RunRefused } from '../src/platform/types.js';
import { windowsPlatform } from '../src/platform/windows.js';
import type { Tunnel } from '../src/tunnel/types.js';
import { type FakeWindows, fakeWindows, PHYSICAL_LUID } from './fake-windows.js';

const lines: string[] = [];
const log = createLogger('debug', (l) => lines.push(l));
const open: Tunnel[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  for (const t of open.splice(0)) await t.close();
  lines.length = 0;
});

// The stack listens on the adapter's address (its system stack); on Linux a loopback address stands in for it.
const config = (flags: Record<string, unknown> = {}) =>
  resolveConfig({ 'auto-route': true, address: ['127.18.0.1/16'], exclude: ['10.0.0.0/8'], ...flags });

function start(w: FakeWindows, flags: Record<string, unknown> = {}): Tunnel {
  const t = createWindowsTunnel(config(flags), { proxyAddresses: [], log }, w.system);
  open.push(t);
  return t;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

/** An IPv4 address as the uint32 @ztun/packet's builders take. */
const v4 = (s: string) => s.split('.').reduce((n, b) => n * 256 + Number(b), 0);

describe('the Windows tunnel against stateful fakes of Wintun and IP Helper', () => {
  it('applies the adapter, addresses and tagged routes, serves a flow, and undoes to the same state', async () => {
    const w = fakeWindows('127.0.0.2');
    const before = w.state();
    const t = start(w);
    const info = await t.ready;
    expect(info).toMatchObject({ name: 'ztun0', index: 17, routes: 2, changes: 5 });

    const routes = new WindowsRouting(w.ip).listRoutes('all').filter((r) => r.ztun);
    const text = routes.map(
      (r) =>
        `${r.luid === PHYSICAL_LUID ? 'eth' : 'tun'} ${r.destination.bytes[0]}/${r.destination.prefixLength}`,
    );
    expect(text.sort()).toEqual(['eth 10/8', 'tun 0/1', 'tun 128/1']);
    expect(routes.every(isZtunRoute)).toBe(true);
    expect(w.state()).toContain('if 14918173849550848'); // the adapter's interface (FAKE_LUID) exists now

    // A UDP datagram from a client behind the adapter leaves from the physical address (127.0.0.2 here).
    const echo = dgram.createSocket('udp4');
    closers.push(() => echo.close());
    echo.on('message', (_m, rinfo) => echo.send(`from ${rinfo.address}`, rinfo.port, rinfo.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    const port = (echo.address() as AddressInfo).port;
    const pkt = new Uint8Array(64);
    const n = buildUdp(
      pkt,
      0,
      { version: 4, source: v4('127.18.0.50'), destination: v4('127.0.0.1') },
      { sourcePort: 40000, destinationPort: port },
      new TextEncoder().encode('ping'),
    );
    w.wintun.inject(pkt.slice(0, n));
    await until(() => w.wintun.tx.length > 0, 'the reply written to the adapter');
    const reply = w.wintun.tx[0]!;
    expect(new TextDecoder().decode(reply.subarray(28))).toBe('from 127.0.0.2');
    expect(Array.from(reply.subarray(16, 20))).toEqual([127, 18, 0, 50]);

    const closed = await t.close();
    expect(closed.clean).toBe(true);
    expect(w.state()).toEqual(before);
    expect(w.wintun.existingAdapters.size).toBe(0);
  });

  it(
    'serves through the C stand-in of wintun.dll (the real koffi bindings), then undoes to the same state',
    skipWhen(standinSkipReason),
    async () => {
      const lib = koffi.load(standinPath('full'));
      closers.push(removeStandins);
      const inject = lib.func('void FakeInject(uintptr_t s, const uint8_t *p, uint32_t len)');
      const sentCount = lib.func('int FakeSentCount(uintptr_t s)');
      const sentCopy = lib.func('uint32_t FakeSentCopy(uintptr_t s, int i, uint8_t *out)');
      const adaptersClosed = lib.func('int FakeAdaptersClosed()');
      const bindings = createWintunApi(koffi, lib, lib);
      let session = 0;
      const standin = {
        ...bindings,
        startSession: (a: never, c: number) => (session = bindings.startSession(a, c) as never),
      } as unknown as Parameters<typeof fakeWindows>[1];
      const w = fakeWindows('127.0.0.3', standin);
      const before = w.state();
      const closedBefore = adaptersClosed() as number;
      const t = start(w);
      await t.ready;
      const echo = dgram.createSocket('udp4');
      closers.push(() => echo.close());
      echo.on('message', (_m, rinfo) => echo.send(`from ${rinfo.address}`, rinfo.port, rinfo.address));
      await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
      const pkt = new Uint8Array(64);
      const n = buildUdp(
        pkt,
        0,
        { version: 4, source: v4('127.18.0.60'), destination: v4('127.0.0.1') },
        { sourcePort: 40001, destinationPort: (echo.address() as AddressInfo).port },
        new TextEncoder().encode('ping'),
      );
      inject(session, pkt.subarray(0, n), n); // as the driver would put it in the receive ring
      await until(() => (sentCount(session) as number) > 0, 'the reply in the send ring');
      const out = new Uint8Array(2048);
      const len = sentCopy(session, 0, out) as number;
      expect(new TextDecoder().decode(out.subarray(28, len))).toBe('from 127.0.0.3');
      expect((await t.close()).clean).toBe(true);
      expect(adaptersClosed()).toBe(closedBefore + 1);
      expect(w.state()).toEqual(before);
    },
  );

  it('killed: the adapter goes with the process; cleanup removes the tagged route left on Ethernet', async () => {
    const w = fakeWindows();
    const before = w.state();
    const t = start(w);
    await t.ready;
    w.kill();
    expect(w.state()).not.toEqual(before); // 10.0.0.0/8 via Ethernet is left
    expect(await windowsPlatform(w.system).cleanup({ log, name: 'ztun0' })).toBe(0);
    expect(w.state()).toEqual(before);
    expect(lines.join('')).toContain('removed 1 route(s) tagged by ztun');
  });

  it('a new run removes what a killed one left before applying its own', async () => {
    const w = fakeWindows();
    const before = w.state();
    const first = start(w);
    await first.ready;
    w.kill();
    const second = start(w);
    await second.ready;
    expect(lines.join('')).toContain('removed what an earlier run left behind: 1 route(s)');
    await second.close();
    expect(w.state()).toEqual(before);
  });

  it('refuses in one line, changing nothing: not Administrator, no wintun.dll, adapter creation failed, --kill-switch', async () => {
    const cases: [string, (w: FakeWindows) => void, Record<string, unknown>, RegExp][] = [
      ['admin', (w) => (w.admin = false), {}, /needs Administrator on Windows/],
      [
        'dll',
        (w) => (w.dllMissing = true),
        {},
        /wintun\.dll.*looked for .*wintun\.dll.*https:\/\/www\.wintun\.net\//,
      ],
      [
        'create',
        (w) => (w.wintun.createFailure = win32Error('WintunCreateAdapter', 5)),
        {},
        /could not create the Wintun adapter ztun0: WintunCreateAdapter failed: ERROR_ACCESS_DENIED/,
      ],
      ['kill-switch', () => {}, { 'kill-switch': true }, /--kill-switch is not available on Windows/],
    ];
    for (const [what, arrange, flags, message] of cases) {
      const w = fakeWindows();
      const before = w.state();
      arrange(w);
      const t = start(w, flags);
      const err = await t.ready.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(RunRefused);
      expect((err as Error).message, what).toMatch(message);
      expect((err as Error).message.includes('\n'), what).toBe(false);
      expect(w.state(), what).toEqual(before);
    }
  });
});
