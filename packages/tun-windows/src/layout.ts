/**
 * Byte layouts of the iphlpapi rows on 64-bit Windows (x64 and arm64), from the reference table in
 * /work/shared/reference/darwin-windows-abi.md §3.3 (sing-tun internal/winipcfg/types_test.go:16-147, checked
 * there against unsafe.Sizeof/Offsetof; golang/sys windows/types_windows.go). All integers are little-endian
 * except ports and addresses. Windows sockaddrs have no length byte; AF_INET6 is 23.
 * 32-bit Windows is not supported (MIB_UNICASTIPADDRESS_ROW differs there).
 */

export const SOCKADDR_INET = {
  size: 28,
  family: 0,
  port: 2,
  v4Addr: 4,
  v4Zero: 8,
  v6FlowInfo: 4,
  v6Addr: 8,
  v6ScopeId: 24,
} as const;

export const IP_ADDRESS_PREFIX = { size: 32, prefix: 0, prefixLength: 28 } as const;

export const MIB_IPFORWARD_ROW2 = {
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
} as const;

/** MIB_IPFORWARD_TABLE2: ULONG NumEntries, then the rows 8-aligned. */
export const MIB_IPFORWARD_TABLE2 = { NumEntries: 0, Table: 8 } as const;

export const MIB_UNICASTIPADDRESS_ROW = {
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
} as const;

export const MIB_IPINTERFACE_ROW = {
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
} as const;

/** MIB_UNICASTIPADDRESS_TABLE: ULONG NumEntries, then the rows 8-aligned (the row holds an int64). */
export const MIB_UNICASTIPADDRESS_TABLE = { NumEntries: 0, Table: 8 } as const;

/**
 * MIB_IF_ROW2 (netioapi.h; Microsoft Learn "MIB_IF_ROW2 structure"), the fields ztun reads. Derived from the
 * declaration order with IF_MAX_STRING_SIZE 256 (WCHAR[257] strings) and IF_MAX_PHYS_ADDRESS_LENGTH 32;
 * ConnectionType is followed by 4 bytes of padding before the ULONG64 counters. The Windows stand-in DLL
 * checks these offsets against mingw-w64's netioapi.h at compile time (test/fixtures/windows-standin.c).
 */
export const MIB_IF_ROW2 = {
  size: 1352,
  InterfaceLuid: 0,
  InterfaceIndex: 8,
  InterfaceGuid: 12,
  Alias: 28,
  Description: 542,
  /** WCHAR count of Alias and Description, including the terminating NUL. */
  stringChars: 257,
  PhysicalAddressLength: 1056,
  PhysicalAddress: 1060,
  Mtu: 1124,
  Type: 1128,
  TunnelType: 1132,
  OperStatus: 1156,
  AdminStatus: 1160,
  MediaConnectState: 1164,
  ConnectionType: 1184,
  TransmitLinkSpeed: 1192,
  OutQLen: 1344,
} as const;

/** MIB_IF_TABLE2: ULONG NumEntries, then the rows 8-aligned. */
export const MIB_IF_TABLE2 = { NumEntries: 0, Table: 8 } as const;

/** NET_LUID is a 64-bit value. */
export const NET_LUID_SIZE = 8;
