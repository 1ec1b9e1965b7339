import type { RunConfig } from './config.js';
import { policyFlagsInUse } from './config-policy.js';
import { RunRefused } from './platform/types.js';

// Options only the Linux composition implements (issue 16: uid/interface policy rules). On macOS and
// Windows a run that asks for one is refused with one line rather than run without it.

const OTHER_OSES = new Set(['darwin', 'win32']);

/** The Linux-only options `config` uses, as flags. */
export function linuxOnlyFlags(config: RunConfig): string[] {
  return [...policyFlagsInUse(config), ...(config.fd !== undefined ? [`--fd ${config.fd}`] : [])];
}

/** Throws RunRefused (exit 2) when `os` is macOS or Windows and `config` uses a Linux-only option. */
export function refuseLinuxOnly(os: string, config: RunConfig): void {
  if (!OTHER_OSES.has(os)) return;
  const used = linuxOnlyFlags(config);
  if (used.length === 0) return;
  const name = os === 'darwin' ? 'macOS' : 'Windows';
  const what = used[0]!.startsWith('--fd')
    ? 'adopting a TUN descriptor'
    : 'policy routing by uid and interface';
  throw new RunRefused(`${used[0]} is Linux-only (${what}); not supported on ${name}`, 2);
}
