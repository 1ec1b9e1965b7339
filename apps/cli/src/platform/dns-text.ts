// The dry-run's words for --dns, shared by every OS's plan (plan.linux.ts, plan.windows.ts).

import { formatCidr } from '../cidr.js';
import type { RunConfig } from '../config.js';

/** What --dns does with this proxy, in the dry-run's words. */
export function dnsText(config: RunConfig): string {
  if (config.dns === 'udp') return 'udp (queries to port 53 relayed as UDP)';
  if (config.dns === 'tcp') return 'tcp (queries to port 53 sent as DNS over TCP through the outbound)';
  if (config.dns === 'fake-ip') {
    const ranges = config.fakeIpRanges.map(formatCidr).join(' and ');
    return `fake-ip (A/AAAA answered from ${ranges}, flows there go to the proxy by name; ${config.dnsHijack ? 'queries to any resolver' : 'queries to the range’s second address'} answered locally, others forwarded as in auto)`;
  }
  return config.proxy.kind === 'direct'
    ? 'auto (direct: queries to port 53 go as UDP)'
    : 'auto (as UDP if the proxy grants UDP ASSOCIATE, probed at start; else DNS over TCP through CONNECT)';
}
