import { unsupportedPlatform } from './unsupported.js';

// Windows plugs in here once @ztun/tun-windows (Wintun + IP Helper routes, IP_UNICAST_IF) is wired.
export const platform = unsupportedPlatform(
  'win32',
  'ztun run is not supported on Windows yet (Wintun support is not wired into the CLI); Linux only for now',
);
