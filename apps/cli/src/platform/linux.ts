// The Linux platform: dry-run plan, the tunnel (tunnel.linux.ts) and cleanup by ztun's tags.

import { flushAutoRoute, RtNetlink } from '@ztun/routing-linux';
import { linuxSockets, tunFdInfo } from '@ztun/tun-linux';
import type { Logger } from '../log.js';
import { acquireNetnsLock } from './lock.linux.js';
import { buildPlan, formatPlan } from './plan.linux.js';
import { findLink, heldText, linuxPreflight } from './preflight.linux.js';
import { sdNotify } from './sd-notify.linux.js';
import { createLinuxTunnel } from './tunnel.linux.js';
import { type Platform, RunRefused } from './types.js';

export { linuxPreflight } from './preflight.linux.js';

async function cleanup(ctx: { log: Logger; name: string }): Promise<number> {
  const refusal = linuxPreflight();
  if (refusal) throw new RunRefused(refusal.replace('ztun run', 'ztun cleanup'));
  // Holding the lock while flushing also keeps a ztun from starting half-way through.
  const lock = acquireNetnsLock();
  if ('heldBy' in lock) {
    throw new RunRefused(
      `${heldText(lock).replace('another ztun', 'ztun')} in this network namespace; its routes and rules are not leftovers (stop it with SIGTERM)`,
    );
  }
  let nl: RtNetlink;
  try {
    nl = RtNetlink.open();
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    const left = flushAutoRoute(nl);
    // A TUN without IFF_TUN_PERSIST disappears with its last fd, so a killed ztun leaves no device;
    // one that is still there belongs to a live process.
    const link = findLink(nl, ctx.name);
    ctx.log.info(
      `removed ${left.routes} route(s) and ${left.rules} rule(s) tagged by ztun` +
        (link ? `; ${ctx.name} still exists and is held by a running process, left alone` : ''),
    );
    return 0;
  } finally {
    nl.close();
    lock.release();
  }
}

export const platform: Platform = {
  os: 'linux',
  sockets: linuxSockets,
  async dryRun(config, proxyAddresses) {
    let named = config;
    if (config.fd !== undefined) {
      // Reading TUNGETIFF changes nothing; it names the device the routes go through.
      try {
        named = { ...config, name: tunFdInfo(config.fd).name };
      } catch (err) {
        throw new RunRefused(`--fd ${config.fd}: ${(err as Error).message}`);
      }
    }
    return formatPlan(named, buildPlan(named, proxyAddresses));
  },
  createTunnel: createLinuxTunnel,
  notify: (message) => sdNotify(message),
  cleanup,
};
