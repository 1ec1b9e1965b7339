import { existsSync, readFileSync } from 'node:fs';
import { NetlinkError, type RtNetlink } from '@ztun/routing-linux';
import type { LockHeld } from './lock.linux.js';

const CAP_NET_ADMIN = 12;

/** Why this process cannot change links/routes here, or undefined. */
export function linuxPreflight(
  statusText: string | undefined = readProcStatus(),
  tunExists = existsSync('/dev/net/tun'),
): string | undefined {
  const capEff = statusText ? /^CapEff:\s*([0-9a-f]+)$/im.exec(statusText)?.[1] : undefined;
  if (capEff !== undefined && (BigInt(`0x${capEff}`) & (1n << BigInt(CAP_NET_ADMIN))) === 0n) {
    return 'ztun run needs root (CAP_NET_ADMIN) to create the TUN device and routes: run it with sudo';
  }
  if (!tunExists) {
    return '/dev/net/tun is missing: load the tun module (modprobe tun) or, in a container, pass --device /dev/net/tun';
  }
  return undefined;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}

/** The link called `name`, or undefined when there is none. */
export function findLink(nl: RtNetlink, name: string) {
  try {
    return nl.getLink(name);
  } catch (err) {
    if (err instanceof NetlinkError && err.code === 'ENODEV') return undefined;
    throw err;
  }
}

/** `another ztun (pid N) is running`, or `… is starting` when it has not written its PID yet. */
export function heldText(lock: LockHeld): string {
  const pid = lock.heldBy.pid;
  return pid === undefined ? 'another ztun is starting' : `another ztun (pid ${pid}) is running`;
}
