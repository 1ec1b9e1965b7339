import { describe, expect, it } from 'vitest';
import { formatIp, parseIp, parsePrefix } from '../src/address.js';
import { ERROR_INVALID_PARAMETER, NlRouteProtocol } from '../src/constants.js';
import { TunError } from '../src/errors.js';
import { MIB_IPFORWARD_ROW2, MIB_IPINTERFACE_ROW } from '../src/layout.js';
import { isZtunRoute, WindowsRouting, ZTUN_ROUTE_METRIC_BASE, ZTUN_ROUTE_PROTOCOL } from '../src/routing.js';
import { decodeUnicastAddressRow, encodeForwardRow, encodeInterfaceKey } from '../src/rows.js';
import { FakeIpHelper } from './fake-iphlpapi.js';

const TUN = 0x0035_0000_0500_0000n;
const ETH = 0x0006_0000_0100_0000n;

function setup() {
  const api = new FakeIpHelper();
  api.addInterface(TUN, 17);
  api.addInterface(ETH, 4, false);
  return { api, routing: new WindowsRouting(api) };
}

const describeRoute = (r: { destination: { family: 4 | 6; bytes: Uint8Array; prefixLength: number } }) =>
  `${formatIp(r.destination.family, r.destination.bytes)}/${r.destination.prefixLength}`;

describe('addresses', () => {
  it('adds IPv4 and IPv6 addresses with DadState Preferred and infinite lifetimes', () => {
    const { api, routing } = setup();
    expect(routing.addAddress(TUN, '198.18.0.1/15')).toBe(true);
    expect(routing.addAddress(TUN, 'fd00:7a74::1/64')).toBe(true);
    const rows = [...api.addresses.values()];
    expect(rows).toHaveLength(2);
    const v4 = decodeUnicastAddressRow(rows[0]!);
    expect(v4).toMatchObject({ luid: TUN, prefixLength: 15 });
    expect(formatIp(4, v4.address.bytes)).toBe('198.18.0.1');
    const view = new DataView(rows[1]!.buffer);
    expect(view.getUint16(0, true)).toBe(23);
    expect(view.getUint32(64, true)).toBe(4); // DadState Preferred
    expect(view.getUint32(52, true)).toBe(0xffffffff);
  });

  it('duplicate add returns false; delete returns true then false', () => {
    const { routing } = setup();
    routing.addAddress(TUN, '198.18.0.1/15');
    expect(routing.addAddress(TUN, '198.18.0.1/15')).toBe(false);
    expect(routing.deleteAddress(TUN, '198.18.0.1/15')).toBe(true);
    expect(routing.deleteAddress(TUN, '198.18.0.1/15')).toBe(false);
  });

  it('bad input is a typed error before any call; an unknown interface is NOT_FOUND', () => {
    const { api, routing } = setup();
    expect(() => routing.addAddress(TUN, '198.18.0.1/40')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => routing.addAddress(TUN, '300.0.0.1/8')).toThrow(TunError);
    expect(api.calls).toEqual([]);
    expect(() => routing.addAddress(999n, '10.0.0.1/8')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', win32Code: 1168 }),
    );
  });
});

describe('routes', () => {
  it('adds tagged routes (protocol NETMGMT, metric in the ztun band) that read back as ztun routes', () => {
    const { routing } = setup();
    routing.addRoute({ luid: TUN, destination: '0.0.0.0/1' });
    routing.addRoute({ luid: TUN, destination: '128.0.0.0/1', priority: 2 });
    routing.addRoute({ luid: TUN, destination: '2000::/3' });
    routing.addRoute({ luid: ETH, destination: '203.0.113.7/32', nextHop: '192.168.1.1' });
    const routes = routing.listRoutes();
    expect(routes.map(describeRoute).sort()).toEqual(
      ['0.0.0.0/1', '128.0.0.0/1', '2000::/3', '203.0.113.7/32'].sort(),
    );
    for (const r of routes) {
      expect(r.ztun).toBe(true);
      expect(r.protocol).toBe(NlRouteProtocol.NetMgmt);
    }
    expect(
      routes.find((r) => r.destination.prefixLength === 1 && r.destination.bytes[0] === 128)!.metric,
    ).toBe(ZTUN_ROUTE_METRIC_BASE + 2);
    const bypass = routes.find((r) => r.luid === ETH)!;
    expect(formatIp(4, bypass.nextHop!.bytes)).toBe('192.168.1.1');
    expect(bypass.interfaceIndex).toBe(4);
    expect(routes.find((r) => r.destination.family === 6)!.nextHop).toBeNull(); // on-link
    expect(routing.listRoutes(6)).toHaveLength(1);
    expect(routing.listRoutes(4)).toHaveLength(3);
  });

  it('duplicate route: ALREADY_EXISTS with the Win32 code and the route named', () => {
    const { routing } = setup();
    routing.addRoute({ luid: TUN, destination: '0.0.0.0/1' });
    let err: TunError | undefined;
    try {
      routing.addRoute({ luid: TUN, destination: '0.0.0.0/1' });
    } catch (e) {
      err = e as TunError;
    }
    expect(err).toMatchObject({ code: 'ALREADY_EXISTS', win32Code: 5010 });
    expect(err!.message).toContain('0.0.0.0/1');
  });

  it('unknown interface, host bits, bad priority, mixed families: typed errors', () => {
    const { routing } = setup();
    expect(() => routing.addRoute({ luid: 1n, destination: '10.0.0.0/8' })).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    expect(() => routing.addRoute({ luid: TUN, destination: '10.0.0.1/8' })).toThrow(/host bits/);
    expect(() => routing.addRoute({ luid: TUN, destination: '10.0.0.0/8', priority: 16 })).toThrow(
      /priority/,
    );
    expect(() => routing.addRoute({ luid: TUN, destination: '10.0.0.0/8', nextHop: 'fe80::1' })).toThrow(
      /address families/,
    );
  });

  it('deleteRoute removes exactly that route; absent is false', () => {
    const { routing } = setup();
    routing.addRoute({ luid: TUN, destination: '0.0.0.0/1' });
    routing.addRoute({ luid: ETH, destination: '203.0.113.7/32', nextHop: '192.168.1.1' });
    expect(routing.deleteRoute({ luid: ETH, destination: '203.0.113.7/32', nextHop: '192.168.1.2' })).toBe(
      false,
    );
    expect(routing.deleteRoute({ luid: ETH, destination: '203.0.113.7/32', nextHop: '192.168.1.1' })).toBe(
      true,
    );
    expect(routing.listRoutes().map(describeRoute)).toEqual(['0.0.0.0/1']);
  });

  it('removeLeftoverRoutes deletes ztun-tagged routes only (optionally on one interface)', () => {
    const { api, routing } = setup();
    const foreign = (dest: string, metric: number, protocol: number) => {
      const row = new Uint8Array(MIB_IPFORWARD_ROW2.size);
      api.initializeIpForwardEntry(row);
      api.seedRoute(
        encodeForwardRow(row, {
          luid: ETH,
          destination: parsePrefix(dest, true),
          nextHop: parseIp('192.168.1.1'),
          metric,
          protocol,
        }),
      );
    };
    foreign('0.0.0.0/0', 0, NlRouteProtocol.NetMgmt); // the user's default route
    foreign('10.0.0.0/8', ZTUN_ROUTE_METRIC_BASE, NlRouteProtocol.Local); // right metric, wrong protocol
    foreign('10.1.0.0/16', ZTUN_ROUTE_METRIC_BASE + 16, NlRouteProtocol.NetMgmt); // just outside the band
    routing.addRoute({ luid: TUN, destination: '0.0.0.0/1' });
    routing.addRoute({ luid: TUN, destination: '::/1' });
    routing.addRoute({ luid: ETH, destination: '203.0.113.7/32', nextHop: '192.168.1.1', priority: 15 });

    expect(routing.removeLeftoverRoutes({ luid: TUN })).toBe(2);
    expect(
      routing
        .listRoutes()
        .filter((r) => r.ztun)
        .map(describeRoute),
    ).toEqual(['203.0.113.7/32']);
    expect(routing.removeLeftoverRoutes()).toBe(1);
    expect(routing.listRoutes().map(describeRoute).sort()).toEqual([
      '0.0.0.0/0',
      '10.0.0.0/8',
      '10.1.0.0/16',
    ]);
    expect(routing.removeLeftoverRoutes()).toBe(0);
  });

  it('isZtunRoute: both protocol and the metric band must match', () => {
    expect(isZtunRoute({ protocol: ZTUN_ROUTE_PROTOCOL, metric: ZTUN_ROUTE_METRIC_BASE })).toBe(true);
    expect(isZtunRoute({ protocol: ZTUN_ROUTE_PROTOCOL, metric: ZTUN_ROUTE_METRIC_BASE + 15 })).toBe(true);
    expect(isZtunRoute({ protocol: ZTUN_ROUTE_PROTOCOL, metric: ZTUN_ROUTE_METRIC_BASE - 1 })).toBe(false);
    expect(isZtunRoute({ protocol: 2, metric: ZTUN_ROUTE_METRIC_BASE })).toBe(false);
  });
});

describe('interface MTU and metric', () => {
  it('the fake models the quirk: setting the row as read fails with ERROR_INVALID_PARAMETER', () => {
    const { api } = setup();
    const row = encodeInterfaceKey(new Uint8Array(MIB_IPINTERFACE_ROW.size), 4, TUN);
    expect(api.getIpInterfaceEntry(row)).toBe(0);
    expect(api.setIpInterfaceEntry(row)).toBe(ERROR_INVALID_PARAMETER);
  });

  it('setInterface clamps SitePrefixLength, so MTU and metric are set for IPv4 and IPv6', () => {
    const { routing } = setup();
    routing.setInterface(TUN, 4, { mtu: 1400, metric: 5 });
    routing.setInterface(TUN, 6, { mtu: 1280 });
    expect(routing.getInterface(TUN, 4)).toMatchObject({
      mtu: 1400,
      metric: 5,
      useAutomaticMetric: false,
      sitePrefixLength: 0,
    });
    expect(routing.getInterface(TUN, 6)).toMatchObject({
      mtu: 1280,
      useAutomaticMetric: true,
      sitePrefixLength: 128,
    });
  });

  it('IPv6 absent on an interface: NOT_FOUND; MTU below minimum: INVALID_ARGUMENT before the call', () => {
    const { api, routing } = setup();
    expect(() => routing.setInterface(ETH, 6, { mtu: 1500 })).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    const before = api.calls.length;
    expect(() => routing.setInterface(TUN, 6, { mtu: 1000 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(api.calls.length).toBe(before);
  });

  it('interfaceIndex maps a LUID to its IfIndex', () => {
    const { routing } = setup();
    expect(routing.interfaceIndex(TUN)).toBe(17);
    expect(() => routing.interfaceIndex(5n)).toThrow(TunError);
  });
});
