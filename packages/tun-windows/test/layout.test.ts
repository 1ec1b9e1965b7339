/**
 * koffi's C layout of every row type vs the reference table (darwin-windows-abi.md §3.3, from sing-tun
 * internal/winipcfg/types_test.go) vs our byte offsets (layout.ts). The reference numbers are written out
 * here by hand, not imported, so a wrong layout.ts cannot agree with itself.
 */
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import {
  IP_ADDRESS_PREFIX,
  MIB_IPFORWARD_ROW2,
  MIB_IPINTERFACE_ROW,
  MIB_UNICASTIPADDRESS_ROW,
  SOCKADDR_INET,
} from '../src/layout.js';
import { iphlpapiStructs } from '../src/structs.js';

const REFERENCE = {
  SOCKADDR_INET: { size: 28 },
  IP_ADDRESS_PREFIX: { size: 32, Prefix: 0, PrefixLength: 28 },
  MIB_IPFORWARD_ROW2: {
    size: 104,
    InterfaceLuid: 0,
    InterfaceIndex: 8,
    DestinationPrefix: 12,
    NextHop: 44,
    SitePrefixLength: 72,
    ValidLifetime: 76,
    PreferredLifetime: 80,
    Metric: 84,
    Protocol: 88,
    Loopback: 92,
    AutoconfigureAddress: 93,
    Publish: 94,
    Immortal: 95,
    Age: 96,
    Origin: 100,
  },
  MIB_UNICASTIPADDRESS_ROW: {
    size: 80,
    Address: 0,
    InterfaceLuid: 32,
    InterfaceIndex: 40,
    PrefixOrigin: 44,
    SuffixOrigin: 48,
    ValidLifetime: 52,
    PreferredLifetime: 56,
    OnLinkPrefixLength: 60,
    SkipAsSource: 61,
    DadState: 64,
    ScopeId: 68,
    CreationTimeStamp: 72,
  },
  // types_test.go:15-50
  MIB_IPINTERFACE_ROW: {
    size: 168,
    Family: 0,
    InterfaceLuid: 8,
    InterfaceIndex: 16,
    MaxReassemblySize: 20,
    InterfaceIdentifier: 24,
    MinRouterAdvertisementInterval: 32,
    MaxRouterAdvertisementInterval: 36,
    AdvertisingEnabled: 40,
    ForwardingEnabled: 41,
    WeakHostSend: 42,
    WeakHostReceive: 43,
    UseAutomaticMetric: 44,
    UseNeighborUnreachabilityDetection: 45,
    ManagedAddressConfigurationSupported: 46,
    OtherStatefulConfigurationSupported: 47,
    AdvertiseDefaultRoute: 48,
    RouterDiscoveryBehavior: 52,
    DadTransmits: 56,
    BaseReachableTime: 60,
    RetransmitTime: 64,
    PathMtuDiscoveryTimeout: 68,
    LinkLocalAddressBehavior: 72,
    LinkLocalAddressTimeout: 76,
    ZoneIndices: 80,
    SitePrefixLength: 144,
    Metric: 148,
    NlMtu: 152,
    Connected: 156,
    SupportsWakeUpPatterns: 157,
    SupportsNeighborDiscovery: 158,
    SupportsRouterDiscovery: 159,
    ReachableTime: 160,
    TransmitOffload: 164,
    ReceiveOffload: 165,
    DisableDefaultRoutes: 166,
  },
} as const;

const OURS = {
  IP_ADDRESS_PREFIX,
  MIB_IPFORWARD_ROW2,
  MIB_UNICASTIPADDRESS_ROW,
  MIB_IPINTERFACE_ROW,
} as const;

describe('koffi struct layouts match the reference table', () => {
  const structs = iphlpapiStructs();

  for (const name of ['MIB_IPFORWARD_ROW2', 'MIB_UNICASTIPADDRESS_ROW', 'MIB_IPINTERFACE_ROW'] as const) {
    it(`${name}: size and every field offset`, () => {
      const ref = REFERENCE[name];
      const type = structs[name];
      expect(koffi.sizeof(type)).toBe(ref.size);
      expect(koffi.alignof(type)).toBe(8); // contains a 64-bit LUID
      const members = Object.keys(koffi.introspect(type).members ?? {});
      // every koffi member is in the reference, and vice versa
      expect(members.sort()).toEqual(
        Object.keys(ref)
          .filter((k) => k !== 'size')
          .sort(),
      );
      for (const [field, offset] of Object.entries(ref)) {
        if (field === 'size') continue;
        expect(koffi.offsetof(type, field), `${name}.${field}`).toBe(offset);
        expect((OURS[name] as Record<string, number>)[field], `layout.ts ${name}.${field}`).toBe(offset);
      }
      expect(OURS[name].size).toBe(ref.size);
    });
  }

  it('SOCKADDR_INET is a 28-byte union; sockaddr_in/in6 have no length byte', () => {
    expect(koffi.sizeof(structs.SOCKADDR_INET)).toBe(REFERENCE.SOCKADDR_INET.size);
    expect(SOCKADDR_INET.size).toBe(28);
    expect(koffi.sizeof(structs.SOCKADDR_IN)).toBe(16);
    // IN_ADDR is a union over a 32-bit S_addr (mingw inaddr.h): C aligns SOCKADDR_IN to 4.
    expect(koffi.alignof(structs.SOCKADDR_IN)).toBe(4);
    expect(koffi.sizeof(structs.SOCKADDR_IN6)).toBe(28);
    // sin_family at 0 as a u16, port at 2, IPv4 address at 4; IPv6 flowinfo 4, address 8, scope id 24
    expect(koffi.offsetof(structs.SOCKADDR_IN, 'sin_family')).toBe(0);
    expect(koffi.offsetof(structs.SOCKADDR_IN, 'sin_port')).toBe(SOCKADDR_INET.port);
    expect(koffi.offsetof(structs.SOCKADDR_IN, 'sin_addr')).toBe(SOCKADDR_INET.v4Addr);
    expect(koffi.offsetof(structs.SOCKADDR_IN6, 'sin6_flowinfo')).toBe(SOCKADDR_INET.v6FlowInfo);
    expect(koffi.offsetof(structs.SOCKADDR_IN6, 'sin6_addr')).toBe(SOCKADDR_INET.v6Addr);
    expect(koffi.offsetof(structs.SOCKADDR_IN6, 'sin6_scope_id')).toBe(SOCKADDR_INET.v6ScopeId);
  });

  it('IP_ADDRESS_PREFIX: 32 bytes, PrefixLength at 28', () => {
    expect(koffi.sizeof(structs.IP_ADDRESS_PREFIX)).toBe(REFERENCE.IP_ADDRESS_PREFIX.size);
    expect(koffi.offsetof(structs.IP_ADDRESS_PREFIX, 'PrefixLength')).toBe(
      REFERENCE.IP_ADDRESS_PREFIX.PrefixLength,
    );
    expect(IP_ADDRESS_PREFIX.prefixLength).toBe(28);
  });

  it('GUID is 16 bytes (Data1 u32, Data2 u16, Data3 u16, Data4[8])', () => {
    expect(koffi.sizeof(structs.GUID)).toBe(16);
    expect(koffi.offsetof(structs.GUID, 'Data4')).toBe(8);
  });

  it('iphlpapiStructs() is built once (koffi types are process-global)', () => {
    expect(iphlpapiStructs()).toBe(structs);
  });
});
