// The Windows platform: dry-run plan (plan.windows.ts), the tunnel (tunnel.windows.ts) and cleanup of the
// routes a killed run left on the physical interface (found by ztun's tag). The system's parts load lazily.

import { portableSockets } from '@ztun/stack';
import type { Logger } from '../log.js';
import { buildWindowsPlan, formatWindowsPlan } from './plan.windows.js';
import { createWindowsTunnel, type WindowsSystem } from './tunnel.windows.js';
import { type Platform, RunRefused } from './types.js';

/** The real system: shell32 IsUserAnAdmin (Microsoft Learn: true when the process runs elevated), wintun.dll, iphlpapi.dll. */
export const realWindowsSystem: WindowsSystem = {
  async isAdmin() {
    // koffi is loaded only here, on Windows: `--dry-run --platform win32` elsewhere never touches it.
    const koffi = (await import('koffi')).default;
    return Boolean(koffi.load('shell32.dll').func('int __stdcall IsUserAnAdmin()')());
  },
  async loadWintun() {
    const { loadWintunApi } = await import('@ztun/tun-windows');
    return loadWintunApi();
  },
  async ipHelper() {
    const { loadIpHelperApi } = await import('@ztun/tun-windows');
    return loadIpHelperApi();
  },
};

const onWindows = () => process.platform === 'win32';

export function windowsPlatform(system: WindowsSystem = realWindowsSystem): Platform {
  return {
    os: 'win32',
    sockets: portableSockets,
    async dryRun(config, proxyAddresses) {
      // On Windows the plan names the real physical interface (read-only IP Helper calls); elsewhere
      // (`--platform win32`) placeholders stand in for it.
      let egress: Parameters<typeof buildWindowsPlan>[2];
      if (onWindows()) {
        const families = [...new Set(config.addresses.map((a) => a.family))];
        const { findEgress } = await import('@ztun/tun-windows');
        egress = findEgress(await system.ipHelper(), families);
      }
      return formatWindowsPlan(config, buildWindowsPlan(config, proxyAddresses, egress));
    },
    createTunnel: (config, ctx) => createWindowsTunnel(config, ctx, system),
    async cleanup(ctx: { log: Logger; name: string }) {
      if (!(await system.isAdmin())) {
        throw new RunRefused(
          'ztun cleanup needs Administrator on Windows (it removes routes): start it from an elevated prompt',
        );
      }
      const { WindowsRouting } = await import('@ztun/tun-windows');
      const removed = new WindowsRouting(await system.ipHelper()).removeLeftoverRoutes();
      // A killed ztun's Wintun adapter went with its process (the adapter's software device lives as long as
      // the handle that created it: SwDeviceCreate, SW_DEVICE_LIFETIME, Microsoft Learn); its tagged routes on
      // the physical interface are what is left.
      ctx.log.info(`removed ${removed} route(s) tagged by ztun`);
      return 0;
    },
  };
}

export const platform: Platform = windowsPlatform();
