/**
 * Win32 / Wintun / iphlpapi constants. Sources are in /work/shared/reference/darwin-windows-abi.md §3
 * (wintun.h at WireGuard/wintun ec0a6b98456f, golang/sys windows/zerrors_windows.go and types_windows.go).
 */

// Win32 error codes (golang/sys windows/zerrors_windows.go).
export const ERROR_SUCCESS = 0;
export const ERROR_FILE_NOT_FOUND = 2;
export const ERROR_PATH_NOT_FOUND = 3;
export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_DATA = 13;
export const ERROR_HANDLE_EOF = 38;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_BUFFER_OVERFLOW = 111;
export const ERROR_MOD_NOT_FOUND = 126;
export const ERROR_ALREADY_EXISTS = 183;
export const ERROR_NO_MORE_ITEMS = 259;
export const ERROR_NOT_FOUND = 1168;
export const ERROR_OBJECT_ALREADY_EXISTS = 5010;

// WaitForSingleObject results (winbase.h).
export const WAIT_OBJECT_0 = 0;
export const WAIT_TIMEOUT = 258;
export const WAIT_FAILED = 0xffffffff;

// Wintun (wintun.h).
export const WINTUN_MIN_RING_CAPACITY = 0x20000; // 128 KiB
export const WINTUN_MAX_RING_CAPACITY = 0x4000000; // 64 MiB
export const WINTUN_MAX_IP_PACKET_SIZE = 0xffff;
/** wireguard-go and sing-tun use 8 MiB. */
export const WINTUN_DEFAULT_RING_CAPACITY = 0x800000;
/** Adapter name and tunnel type: at most MAX_ADAPTER_NAME - 1 UTF-16 units. */
export const MAX_ADAPTER_NAME = 128;

export const WintunLoggerLevel = { Info: 0, Warn: 1, Error: 2 } as const;

// Address families as Windows numbers them (AF_INET6 is 23 here, 10 on Linux, 30 on darwin).
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 23;

export const NlDadState = { Invalid: 0, Tentative: 1, Duplicate: 2, Deprecated: 3, Preferred: 4 } as const;
export const NlPrefixOrigin = { Other: 0, Manual: 1, WellKnown: 2, Dhcp: 3, RouterAdvertisement: 4 } as const;
export const NlSuffixOrigin = { Other: 0, Manual: 1 } as const;
export const NlRouteOrigin = { Manual: 0 } as const;
/** NL_ROUTE_PROTOCOL values (= MIB_IPPROTO_*). */
export const NlRouteProtocol = { Other: 1, Local: 2, NetMgmt: 3 } as const;
export const RouterDiscoveryBehavior = { Disabled: 0, Enabled: 1, Dhcp: 2 } as const;

/** "Infinite" lifetime in MIB rows. */
export const INFINITE_LIFETIME = 0xffffffff;

// Socket options (ws2ipdef.h): bind an outbound socket's sends to an interface.
export const IPPROTO_IP = 0;
export const IPPROTO_IPV6 = 41;
export const IP_UNICAST_IF = 31;
export const IPV6_UNICAST_IF = 31;

export const WINTUN_DOWNLOAD_URL_HINT =
  'Wintun (wintun.dll, which installs the driver when the first adapter is created; needs Administrator) ' +
  'comes from https://www.wintun.net/.';
