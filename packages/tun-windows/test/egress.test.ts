// chooseEgress / findEgress: the physical interface a tunnel's own sockets leave by (src/egress.ts), over
// decoded rows and over the fake iphlpapi. windows.test.ts runs findEgress against the system's real tables.
import { describe, expect, it } from 'vitest';
import { parseIp, parsePrefix } from '../src/address.js';
import { chooseEgress, type EgressTables, findEgress } from '../src/egress.js';
import { IfOperStatus, IfType } from '../src/if-row.js';
import type { DecodedForwardRow, DecodedUnicastAddress } from '../src/rows.js';
import { encodeForwardRow, encodeUnicastAddressRow } from '../src/rows.js';
import { FakeIpHelper } from './fake-iphlpapi.js';

const ETH = 1n;
const WIFI = 2n;
const LOOP = 3n;
const route = (luid: bigint, index: number, dest: string, hop: string | null, metric: number, ztun = false) =>
  ({
    luid,
    interfaceIndex: index,
    destination: parsePrefix(dest),
    nextHop: hop ? parseIp(hop) : null,
    metric,
    protocol: 3,
    origin: 0,
    ztun,
  }) as DecodedForwardRow & { ztun: boolean };
const addr = (luid: bigint, index: number, a: string): DecodedUnicastAddress => ({
  luid,
  interfaceIndex: index,
  address: parseIp(a),
  prefixLength: 24,
});
const iface = (
  luid: bigint,
  index: number,
  alias: string,
  type: number = IfType.EthernetCsmacd,
  up = true,
) => ({
  luid,
  index,
  alias,
  description: alias,
  mtu: 1500,
  type,
  operStatus: up ? IfOperStatus.Up : IfOperStatus.Down,
});

const base = (): EgressTables => ({
  routes: [
    route(ETH, 5, '0.0.0.0/0', '192.168.1.1', 25),
    route(WIFI, 7, '0.0.0.0/0', '10.1.0.1', 35),
    route(LOOP, 1, '0.0.0.0/0', null, 1),
    route(ETH, 5, '::/0', 'fe80::1', 25),
  ],
  interfaces: [
    iface(ETH, 5, 'Ethernet'),
    iface(WIFI, 7, 'Wi-Fi'),
    iface(LOOP, 1, 'Loopback', IfType.SoftwareLoopback),
  ],
  addresses: [
    addr(ETH, 5, '169.254.3.4'),
    addr(ETH, 5, '192.168.1.10'),
    addr(WIFI, 7, '10.1.0.20'),
    addr(ETH, 5, 'fe80::10'),
    addr(ETH, 5, '2001:db8::10'),
  ],
});

describe('chooseEgress', () => {
  it('picks the lowest-metric default route off loopback, its gateway and a non-link-local source', () => {
    expect(chooseEgress(4, base())).toEqual({
      family: 4,
      luid: ETH,
      index: 5,
      alias: 'Ethernet',
      gateway: '192.168.1.1',
      source: '192.168.1.10',
    });
    expect(chooseEgress(6, base())).toMatchObject({
      alias: 'Ethernet',
      gateway: 'fe80::1',
      source: '2001:db8::10',
    });
  });

  it('adds the interface metric when known (Windows ranks routes by route + interface metric)', () => {
    const t = { ...base(), interfaceMetric: (luid: bigint) => (luid === ETH ? 50 : 5) };
    expect(chooseEgress(4, t)?.alias).toBe('Wi-Fi');
  });

  it("skips ztun's own routes, an excluded interface, down interfaces and interfaces without a source", () => {
    const t = base();
    const tagged = { ...t, routes: [route(9n, 17, '0.0.0.0/0', null, 0, true), ...t.routes] };
    expect(chooseEgress(4, tagged)?.alias).toBe('Ethernet');
    expect(chooseEgress(4, t, ETH)?.alias).toBe('Wi-Fi');
    const down = {
      ...t,
      interfaces: [iface(ETH, 5, 'Ethernet', IfType.EthernetCsmacd, false), ...t.interfaces.slice(1)],
    };
    expect(chooseEgress(4, down)?.alias).toBe('Wi-Fi');
    const noSource = { ...t, addresses: t.addresses.filter((a) => a.luid !== ETH) };
    expect(chooseEgress(4, noSource)?.alias).toBe('Wi-Fi');
    expect(chooseEgress(6, noSource)).toBeUndefined();
  });
});

describe('findEgress over IP Helper', () => {
  it('reads routes, interfaces and addresses and returns each family it finds', () => {
    const ip = new FakeIpHelper();
    ip.addInterface(ETH, 5, true, 'Ethernet');
    const r = new Uint8Array(104);
    ip.initializeIpForwardEntry(r);
    ip.seedRoute(
      encodeForwardRow(r, {
        luid: ETH,
        destination: parsePrefix('0.0.0.0/0'),
        nextHop: parseIp('192.168.1.1'),
        metric: 0,
        protocol: 2,
      }),
    );
    const a = new Uint8Array(80);
    ip.initializeUnicastIpAddressEntry(a);
    ip.createUnicastIpAddressEntry(
      encodeUnicastAddressRow(a, { luid: ETH, address: parseIp('192.168.1.10'), prefixLength: 24 }),
    );
    expect(findEgress(ip, [4, 6])).toEqual({
      4: {
        family: 4,
        luid: ETH,
        index: 5,
        alias: 'Ethernet',
        gateway: '192.168.1.1',
        source: '192.168.1.10',
      },
    });
  });
});
