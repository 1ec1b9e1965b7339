// A stateful fake Windows for the Windows composition (platform/tunnel.windows.ts), runnable on Linux: the
// fake wintun.dll and fake iphlpapi of @ztun/tun-windows' tests, joined the way Windows joins them — creating
// an adapter makes its interface appear in IP Helper's tables, closing it removes the interface with its
// addresses and routes — plus a physical "Ethernet" with a default route and an address.
import { IfType, type WintunApi } from '@ztun/tun-windows';
import { parseIp, parsePrefix } from '../../../packages/tun-windows/src/address.js';
import { encodeForwardRow, encodeUnicastAddressRow } from '../../../packages/tun-windows/src/rows.js';
import { FakeIpHelper } from '../../../packages/tun-windows/test/fake-iphlpapi.js';
import { FAKE_LUID, FakeWintun } from '../../../packages/tun-windows/test/fake-wintun.js';
import type { WindowsSystem } from '../src/platform/tunnel.windows.js';

export const PHYSICAL_LUID = 0x0006_0000_0100_0000n;
export const PHYSICAL_INDEX = 5;

export interface FakeWindows {
  readonly system: WindowsSystem;
  readonly wintun: FakeWintun;
  readonly ip: FakeIpHelper;
  admin: boolean;
  dllMissing: boolean;
  /** Everything IP Helper holds, as sorted text: equal before start and after teardown. */
  state(): string[];
  /** What Windows does when the process dies: the adapter goes (SwDevice lifetime), with its routes. */
  kill(): void;
}

/**
 * `physicalAddress`: the Ethernet's IPv4 address (a loopback one lets the test's sockets bind to it on Linux).
 * `standin`: use this WintunApi (createWintunApi over the C stand-in of wintun.dll) instead of the JS fake;
 * its adapters are joined to IP Helper the same way.
 */
export function fakeWindows(physicalAddress = '127.0.0.2', standin?: WintunApi): FakeWindows {
  const ip = new FakeIpHelper();
  ip.addInterface(PHYSICAL_LUID, PHYSICAL_INDEX, true, 'Ethernet', IfType.EthernetCsmacd);
  const addr = new Uint8Array(80);
  ip.initializeUnicastIpAddressEntry(addr);
  ip.createUnicastIpAddressEntry(
    encodeUnicastAddressRow(addr, {
      luid: PHYSICAL_LUID,
      address: parseIp(physicalAddress),
      prefixLength: 8,
    }),
  );
  const route = new Uint8Array(104);
  ip.initializeIpForwardEntry(route);
  ip.seedRoute(
    encodeForwardRow(route, {
      luid: PHYSICAL_LUID,
      destination: parsePrefix('0.0.0.0/0'),
      nextHop: parseIp('127.0.0.1'),
      metric: 25,
      protocol: 3,
    }),
  );
  const wintun = new FakeWintun();
  const removeAdapter = (name: string) => {
    if (!wintun.existingAdapters.delete(name)) return;
    ip.interfaces.delete(FAKE_LUID);
    for (const [k] of ip.routes) if (k.startsWith(`${FAKE_LUID}/`)) ip.routes.delete(k);
    for (const [k] of ip.addresses) if (k.startsWith(`${FAKE_LUID}/`)) ip.addresses.delete(k);
  };
  const create = wintun.createAdapter.bind(wintun);
  wintun.createAdapter = (name, type, guid) => {
    const h = create(name, type, guid);
    ip.addInterface(FAKE_LUID, 17, true, name, IfType.PropVirtual);
    return h;
  };
  const close = wintun.closeAdapter.bind(wintun);
  (wintun as { closeAdapter: (h: unknown) => void }).closeAdapter = (h) => {
    close();
    removeAdapter((h as { adapter: string }).adapter);
  };
  let api: WintunApi = wintun as unknown as WintunApi;
  if (standin) {
    const names = new Map<unknown, string>();
    api = {
      ...standin,
      createAdapter(name, type, guid) {
        const h = standin.createAdapter(name, type, guid);
        wintun.existingAdapters.add(name);
        names.set(h, name);
        ip.addInterface(FAKE_LUID, 17, true, name, IfType.PropVirtual);
        return h;
      },
      closeAdapter(h) {
        standin.closeAdapter(h);
        removeAdapter(names.get(h) ?? '');
      },
    };
  }
  const w: FakeWindows = {
    wintun,
    ip,
    admin: true,
    dllMissing: false,
    system: {
      isAdmin: async () => w.admin,
      loadWintun: async () => {
        if (w.dllMissing) {
          const { findWintunDll } = await import('@ztun/tun-windows');
          findWintunDll({ execPath: 'C:/node/node.exe', packageDir: 'C:/app/tun-windows' }, () => false);
        }
        // The JS fake is typed against tun-windows' src (handle brands differ from the dist's).
        return api;
      },
      ipHelper: async () => ip,
    },
    state: () =>
      [
        ...[...ip.interfaces.keys()].map((l) => `if ${l}`),
        ...[...ip.routes.keys()].map((k) => `route ${k}`),
        ...[...ip.addresses.keys()].map((k) => `addr ${k}`),
      ].sort(),
    kill: () => {
      for (const name of [...wintun.existingAdapters]) removeAdapter(name);
    },
  };
  return w;
}
