import { unsupportedPlatform } from './unsupported.js';

// macOS plugs in here once @ztun/tun-darwin (utun) and @ztun/routing-darwin (scoped defaults tagged
// RTF_PROTO1, IP_BOUND_IF on outbound sockets; seed 004) are wired: same Platform shape as linux.ts.
export const platform = unsupportedPlatform(
  'darwin',
  'ztun run is not supported on macOS yet (utun and route-socket support are not wired into the CLI); Linux only for now',
);
