/**
 * Row encoders against golden bytes written by hand from the layout table (reference §3.3), and against
 * koffi.encode of the same values through the koffi struct definitions.
 */
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { parseIp, parsePrefix } from '../src/address.js';
import { TunError } from '../src/errors.js';
import {
  applyInterfaceSettings,
  decodeForwardRow,
  decodeInterfaceRow,
  decodeUnicastAddressRow,
  encodeForwardRow,
  encodeInterfaceKey,
  encodeUnicastAddressRow,
} from '../src/rows.js';
import { iphlpapiStructs } from '../src/structs.js';

/** "02 00 | ab cd" → bytes; everything after '#' on a line is a comment; '|' is ignored. */
function hex(text: string): Uint8Array {
  const digits = text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join(' ')
    .replace(/[|\s]/g, '');
  return Uint8Array.from(digits.match(/../g)!.map((h) => Number.parseInt(h, 16)));
}

// NET_LUID of a Wintun adapter: IfType 53 (IF_TYPE_PROP_VIRTUAL) << 48 | NetLuidIndex 5 << 24.
const LUID = 0x0035_0000_0500_0000n;

const UNICAST_V4_GOLDEN = hex(`
  02 00 00 00 c6 12 00 01  00 00 00 00 00 00 00 00   # 0  Address: AF_INET, port 0, 198.18.0.1, sin_zero
  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00   # 16 rest of SOCKADDR_INET (28), 4 bytes padding
  00 00 00 05 00 00 35 00                            # 32 InterfaceLuid (LE)
  00 00 00 00                                        # 40 InterfaceIndex
  00 00 00 00  00 00 00 00                           # 44 PrefixOrigin, 48 SuffixOrigin
  ff ff ff ff  ff ff ff ff                           # 52 ValidLifetime, 56 PreferredLifetime: infinite
  0f 00 00 00                                        # 60 OnLinkPrefixLength 15, 61 SkipAsSource, pad
  04 00 00 00                                        # 64 DadState = Preferred
  00 00 00 00                                        # 68 ScopeId
  00 00 00 00 00 00 00 00                            # 72 CreationTimeStamp
`);

const UNICAST_V6_GOLDEN = hex(`
  17 00 00 00 00 00 00 00                            # 0  AF_INET6 = 23, port, flowinfo
  fd 00 7a 74 00 00 00 00  00 00 00 00 00 00 00 01   # 8  fd00:7a74::1
  00 00 00 00 00 00 00 00                            # 24 scope id, 28 padding
  00 00 00 05 00 00 35 00                            # 32 InterfaceLuid
  00 00 00 00 00 00 00 00 00 00 00 00                # 40 index, prefix/suffix origin
  ff ff ff ff  ff ff ff ff                           # 52, 56 lifetimes
  40 00 00 00                                        # 60 OnLinkPrefixLength 64
  04 00 00 00                                        # 64 DadState Preferred
  00 00 00 00 00 00 00 00 00 00 00 00                # 68 ScopeId, 72 CreationTimeStamp
`);

const ROUTE_V4_GOLDEN = hex(`
  00 00 00 05 00 00 35 00                            # 0  InterfaceLuid
  00 00 00 00                                        # 8  InterfaceIndex
  02 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00   # 12 DestinationPrefix.Prefix: AF_INET 0.0.0.0
  00 00 00 00 00 00 00 00  00 00 00 00               # 28 rest of the SOCKADDR_INET (ends at 40)
  01 00 00 00                                        # 40 PrefixLength 1, padding
  02 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00   # 44 NextHop: AF_INET 0.0.0.0 (on-link)
  00 00 00 00 00 00 00 00  00 00 00 00               # 60 rest of NextHop (ends at 72)
  00 00 00 00                                        # 72 SitePrefixLength, padding
  00 00 00 00  00 00 00 00                           # 76 ValidLifetime, 80 PreferredLifetime
  70 1b 00 00                                        # 84 Metric 7024 (ztun band)
  03 00 00 00                                        # 88 Protocol MIB_IPPROTO_NETMGMT
  00 00 00 00                                        # 92 Loopback, AutoconfigureAddress, Publish, Immortal
  00 00 00 00  00 00 00 00                           # 96 Age, 100 Origin
`);

const ROUTE_V6_GOLDEN = hex(`
  00 00 00 05 00 00 35 00  00 00 00 00               # 0 InterfaceLuid, 8 InterfaceIndex
  17 00 00 00 00 00 00 00                            # 12 AF_INET6, port, flowinfo
  20 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00   # 20 2000::
  00 00 00 00                                        # 36 scope id
  03 00 00 00                                        # 40 PrefixLength 3
  17 00 00 00 00 00 00 00                            # 44 NextHop AF_INET6
  fe 80 00 00 00 00 00 00  00 00 00 00 00 00 00 01   # 52 fe80::1
  00 00 00 00                                        # 68 scope id
  00 00 00 00 00 00 00 00 00 00 00 00                # 72 SitePrefixLength, lifetimes
  72 1b 00 00  03 00 00 00                           # 84 Metric 7026, 88 Protocol 3
  00 00 00 00 00 00 00 00 00 00 00 00                # 92 flags, Age, Origin
`);

describe('golden bytes', () => {
  it('the golden vectors have the row sizes', () => {
    expect([UNICAST_V4_GOLDEN.length, UNICAST_V6_GOLDEN.length]).toEqual([80, 80]);
    expect([ROUTE_V4_GOLDEN.length, ROUTE_V6_GOLDEN.length]).toEqual([104, 104]);
  });

  it('MIB_UNICASTIPADDRESS_ROW for 198.18.0.1/15', () => {
    const a = parsePrefix('198.18.0.1/15');
    const row = encodeUnicastAddressRow(new Uint8Array(80), { luid: LUID, address: a, prefixLength: 15 });
    expect(row).toEqual(UNICAST_V4_GOLDEN);
    expect(decodeUnicastAddressRow(row)).toMatchObject({
      luid: LUID,
      prefixLength: 15,
      address: { family: 4 },
    });
  });

  it('MIB_UNICASTIPADDRESS_ROW for fd00:7a74::1/64', () => {
    const a = parsePrefix('fd00:7a74::1/64');
    const row = encodeUnicastAddressRow(new Uint8Array(80), { luid: LUID, address: a, prefixLength: 64 });
    expect(row).toEqual(UNICAST_V6_GOLDEN);
  });

  it('MIB_IPFORWARD_ROW2 for 0.0.0.0/1 on-link, metric 7024, protocol NETMGMT', () => {
    const row = encodeForwardRow(new Uint8Array(104), {
      luid: LUID,
      destination: parsePrefix('0.0.0.0/1', true),
      nextHop: null,
      metric: 7024,
      protocol: 3,
    });
    expect(row).toEqual(ROUTE_V4_GOLDEN);
    const d = decodeForwardRow(row);
    expect(d).toMatchObject({ luid: LUID, metric: 7024, protocol: 3, nextHop: null });
    expect(d.destination).toEqual({ family: 4, bytes: new Uint8Array(4), prefixLength: 1 });
  });

  it('MIB_IPFORWARD_ROW2 for 2000::/3 via fe80::1', () => {
    const row = encodeForwardRow(new Uint8Array(104), {
      luid: LUID,
      destination: parsePrefix('2000::/3', true),
      nextHop: parseIp('fe80::1'),
      metric: 7026,
      protocol: 3,
    });
    expect(row).toEqual(ROUTE_V6_GOLDEN);
    expect(decodeForwardRow(row).nextHop).toEqual(parseIp('fe80::1'));
  });

  it('encoders keep the fields they do not own (InitializeIpForwardEntry defaults survive)', () => {
    const row = new Uint8Array(104).fill(0xaa);
    encodeForwardRow(row, {
      luid: LUID,
      destination: parsePrefix('0.0.0.0/1', true),
      nextHop: null,
      metric: 7024,
      protocol: 3,
    });
    expect(row.subarray(92, 96)).toEqual(new Uint8Array([0xaa, 0xaa, 0xaa, 0xaa])); // Loopback..Immortal
    expect(row.subarray(76, 84)).toEqual(new Uint8Array(8).fill(0xaa)); // lifetimes
    expect(row[72]).toBe(0xaa); // SitePrefixLength
    expect(row.subarray(0, 8)).toEqual(ROUTE_V4_GOLDEN.subarray(0, 8));
    expect(row.subarray(12, 72)).toEqual(ROUTE_V4_GOLDEN.subarray(12, 72)); // sockaddrs fully rewritten
  });

  it('encoders honour byteOffset (row inside a larger buffer)', () => {
    const big = new Uint8Array(300);
    const row = big.subarray(100, 204);
    encodeForwardRow(row, {
      luid: LUID,
      destination: parsePrefix('0.0.0.0/1', true),
      nextHop: null,
      metric: 7024,
      protocol: 3,
    });
    expect(row).toEqual(ROUTE_V4_GOLDEN);
    expect(big.subarray(0, 100).every((b) => b === 0) && big.subarray(204).every((b) => b === 0)).toBe(true);
  });
});

describe('koffi.encode of the same values gives the same bytes', () => {
  const s = iphlpapiStructs();

  it('MIB_IPFORWARD_ROW2', () => {
    const buf = Buffer.alloc(104);
    koffi.encode(buf, s.MIB_IPFORWARD_ROW2, {
      InterfaceLuid: LUID,
      DestinationPrefix: {
        Prefix: { Ipv6: { sin6_family: 23, sin6_addr: [0x20, ...new Array(15).fill(0)] } },
        PrefixLength: 3,
      },
      NextHop: { Ipv6: { sin6_family: 23, sin6_addr: [0xfe, 0x80, ...new Array(13).fill(0), 1] } },
      Metric: 7026,
      Protocol: 3,
    });
    expect(new Uint8Array(buf)).toEqual(ROUTE_V6_GOLDEN);
  });

  it('MIB_UNICASTIPADDRESS_ROW', () => {
    const buf = Buffer.alloc(80);
    koffi.encode(buf, s.MIB_UNICASTIPADDRESS_ROW, {
      Address: { Ipv4: { sin_family: 2, sin_addr: [198, 18, 0, 1] } },
      InterfaceLuid: LUID,
      ValidLifetime: 0xffffffff,
      PreferredLifetime: 0xffffffff,
      OnLinkPrefixLength: 15,
      DadState: 4,
    });
    expect(new Uint8Array(buf)).toEqual(UNICAST_V4_GOLDEN);
  });

  it('MIB_IPINTERFACE_ROW: koffi decodes what applyInterfaceSettings wrote', () => {
    const row = encodeInterfaceKey(new Uint8Array(168), 4, LUID);
    new DataView(row.buffer).setUint32(144, 64, true); // SitePrefixLength as some Windows versions return it
    applyInterfaceSettings(row, { mtu: 1400, metric: 5 });
    const o = koffi.decode(Buffer.from(row), s.MIB_IPINTERFACE_ROW);
    expect(o).toMatchObject({
      Family: 2,
      NlMtu: 1400,
      Metric: 5,
      UseAutomaticMetric: 0,
      SitePrefixLength: 0,
    });
    expect(BigInt(o.InterfaceLuid)).toBe(LUID);
  });
});

describe('MIB_IPINTERFACE_ROW edits', () => {
  function fetched(family: 4 | 6, site: number): Uint8Array {
    // A row as GetIpInterfaceEntry might fill it: everything 0xAA except the key and SitePrefixLength.
    const row = new Uint8Array(168).fill(0xaa);
    encodeInterfaceKey(row, family, LUID);
    new DataView(row.buffer).setUint32(144, site, true);
    return row;
  }

  it('IPv4: SitePrefixLength 64 is clamped to 0; MTU at 152, metric at 148, automatic metric off at 44', () => {
    const row = applyInterfaceSettings(fetched(4, 64), { mtu: 1400, metric: 5 });
    const expected = fetched(4, 64);
    expected.set(hex('00'), 44);
    expected.set(hex('00 00 00 00  05 00 00 00  78 05 00 00'), 144);
    expect(row).toEqual(expected);
  });

  it('IPv6: SitePrefixLength above 128 becomes 128; a legal value is kept', () => {
    expect(decodeInterfaceRow(applyInterfaceSettings(fetched(6, 0xffffffff), {})).sitePrefixLength).toBe(128);
    expect(decodeInterfaceRow(applyInterfaceSettings(fetched(6, 48), {})).sitePrefixLength).toBe(48);
    expect(decodeInterfaceRow(applyInterfaceSettings(fetched(4, 24), {})).sitePrefixLength).toBe(24);
  });

  it('only MTU: metric and UseAutomaticMetric untouched', () => {
    const row = applyInterfaceSettings(fetched(6, 64), { mtu: 1280 });
    const d = decodeInterfaceRow(row);
    expect(d.mtu).toBe(1280);
    expect(row[44]).toBe(0xaa);
    expect(d.metric).toBe(0xaaaaaaaa);
  });

  it('rejects MTUs below the family minimum and short buffers', () => {
    expect(() => applyInterfaceSettings(fetched(6, 0), { mtu: 1279 })).toThrow(TunError);
    expect(() => applyInterfaceSettings(fetched(4, 0), { mtu: 575 })).toThrow(/576/);
    expect(() => applyInterfaceSettings(new Uint8Array(100), { mtu: 1500 })).toThrow(/168/);
  });
});

describe('encoder input checks', () => {
  const base = { luid: LUID, metric: 1, protocol: 3, nextHop: null };
  it('family mismatch between destination and next hop', () => {
    expect(() =>
      encodeForwardRow(new Uint8Array(104), {
        ...base,
        destination: parsePrefix('10.0.0.0/8', true),
        nextHop: parseIp('fe80::1'),
      }),
    ).toThrow(/different address families/);
  });
  it('metric outside 32 bits', () => {
    expect(() =>
      encodeForwardRow(new Uint8Array(104), { ...base, destination: parsePrefix('10.0.0.0/8'), metric: -1 }),
    ).toThrow(TunError);
  });
  it('unknown family on decode is a typed error', () => {
    const row = new Uint8Array(104);
    row[12] = 99;
    expect(() => decodeForwardRow(row)).toThrow(/unknown address family 99/);
  });
});
