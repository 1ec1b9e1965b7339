/**
 * koffi definitions of the iphlpapi rows, for 64-bit Windows. The bindings pass rows as byte buffers encoded by
 * rows.ts; these definitions exist so tests on any OS can check (koffi.sizeof/offsetof, koffi.encode) that
 * koffi's C layout, our byte offsets (layout.ts) and the reference table agree, and so table rows can be decoded.
 * Only `uint*` types of fixed width are used: C `long` is 4 bytes on Windows but 8 on Linux.
 */
import koffi from 'koffi';

export interface IphlpapiStructs {
  SOCKADDR_IN: koffi.IKoffiCType;
  SOCKADDR_IN6: koffi.IKoffiCType;
  SOCKADDR_INET: koffi.IKoffiCType;
  IP_ADDRESS_PREFIX: koffi.IKoffiCType;
  MIB_IPFORWARD_ROW2: koffi.IKoffiCType;
  MIB_UNICASTIPADDRESS_ROW: koffi.IKoffiCType;
  MIB_IPINTERFACE_ROW: koffi.IKoffiCType;
  GUID: koffi.IKoffiCType;
}

let cached: IphlpapiStructs | undefined;

/** Built once (koffi type definitions are process-global). */
export function iphlpapiStructs(): IphlpapiStructs {
  if (cached) return cached;
  const SOCKADDR_IN = koffi.struct({
    sin_family: 'uint16_t',
    sin_port: 'uint16_t', // network order
    // IN_ADDR is a union over a 32-bit S_addr (mingw inaddr.h), so SOCKADDR_IN is 4-byte aligned in C.
    sin_addr: [4, koffi.array('uint8_t', 4)],
    sin_zero: koffi.array('uint8_t', 8),
  });
  const SOCKADDR_IN6 = koffi.struct({
    sin6_family: 'uint16_t',
    sin6_port: 'uint16_t',
    sin6_flowinfo: 'uint32_t',
    sin6_addr: koffi.array('uint8_t', 16),
    sin6_scope_id: 'uint32_t',
  });
  const SOCKADDR_INET = koffi.union({ Ipv4: SOCKADDR_IN, Ipv6: SOCKADDR_IN6, si_family: 'uint16_t' });
  const IP_ADDRESS_PREFIX = koffi.struct({ Prefix: SOCKADDR_INET, PrefixLength: 'uint8_t' });
  const MIB_IPFORWARD_ROW2 = koffi.struct({
    InterfaceLuid: 'uint64_t',
    InterfaceIndex: 'uint32_t',
    DestinationPrefix: IP_ADDRESS_PREFIX,
    NextHop: SOCKADDR_INET,
    SitePrefixLength: 'uint8_t',
    ValidLifetime: 'uint32_t',
    PreferredLifetime: 'uint32_t',
    Metric: 'uint32_t',
    Protocol: 'uint32_t', // NL_ROUTE_PROTOCOL
    Loopback: 'uint8_t', // BOOLEAN
    AutoconfigureAddress: 'uint8_t',
    Publish: 'uint8_t',
    Immortal: 'uint8_t',
    Age: 'uint32_t',
    Origin: 'uint32_t', // NL_ROUTE_ORIGIN
  });
  const MIB_UNICASTIPADDRESS_ROW = koffi.struct({
    Address: SOCKADDR_INET,
    InterfaceLuid: 'uint64_t',
    InterfaceIndex: 'uint32_t',
    PrefixOrigin: 'uint32_t',
    SuffixOrigin: 'uint32_t',
    ValidLifetime: 'uint32_t',
    PreferredLifetime: 'uint32_t',
    OnLinkPrefixLength: 'uint8_t',
    SkipAsSource: 'uint8_t',
    DadState: 'uint32_t',
    ScopeId: 'uint32_t', // SCOPE_ID union of ULONG
    CreationTimeStamp: 'int64_t', // LARGE_INTEGER
  });
  const MIB_IPINTERFACE_ROW = koffi.struct({
    Family: 'uint16_t',
    InterfaceLuid: 'uint64_t',
    InterfaceIndex: 'uint32_t',
    MaxReassemblySize: 'uint32_t',
    InterfaceIdentifier: 'uint64_t',
    MinRouterAdvertisementInterval: 'uint32_t',
    MaxRouterAdvertisementInterval: 'uint32_t',
    AdvertisingEnabled: 'uint8_t',
    ForwardingEnabled: 'uint8_t',
    WeakHostSend: 'uint8_t',
    WeakHostReceive: 'uint8_t',
    UseAutomaticMetric: 'uint8_t',
    UseNeighborUnreachabilityDetection: 'uint8_t',
    ManagedAddressConfigurationSupported: 'uint8_t',
    OtherStatefulConfigurationSupported: 'uint8_t',
    AdvertiseDefaultRoute: 'uint8_t',
    RouterDiscoveryBehavior: 'uint32_t',
    DadTransmits: 'uint32_t',
    BaseReachableTime: 'uint32_t',
    RetransmitTime: 'uint32_t',
    PathMtuDiscoveryTimeout: 'uint32_t',
    LinkLocalAddressBehavior: 'uint32_t',
    LinkLocalAddressTimeout: 'uint32_t',
    ZoneIndices: koffi.array('uint32_t', 16), // ScopeLevelCount
    SitePrefixLength: 'uint32_t',
    Metric: 'uint32_t',
    NlMtu: 'uint32_t',
    Connected: 'uint8_t',
    SupportsWakeUpPatterns: 'uint8_t',
    SupportsNeighborDiscovery: 'uint8_t',
    SupportsRouterDiscovery: 'uint8_t',
    ReachableTime: 'uint32_t',
    TransmitOffload: 'uint8_t', // NL_INTERFACE_OFFLOAD_ROD: one byte of BOOLEAN bit-fields
    ReceiveOffload: 'uint8_t',
    DisableDefaultRoutes: 'uint8_t',
  });
  const GUID = koffi.struct({
    Data1: 'uint32_t',
    Data2: 'uint16_t',
    Data3: 'uint16_t',
    Data4: koffi.array('uint8_t', 8),
  });
  cached = {
    SOCKADDR_IN,
    SOCKADDR_IN6,
    SOCKADDR_INET,
    IP_ADDRESS_PREFIX,
    MIB_IPFORWARD_ROW2,
    MIB_UNICASTIPADDRESS_ROW,
    MIB_IPINTERFACE_ROW,
    GUID,
  };
  return cached;
}
