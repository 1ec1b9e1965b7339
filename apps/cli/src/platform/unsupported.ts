import { failedTunnel } from '../tunnel/failed.js';
import type { Platform } from './types.js';
import { RunRefused } from './types.js';

/** A system whose device/routing packages are not wired into the CLI yet. */
export function unsupportedPlatform(os: string, why: string): Platform {
  const refuse = async (): Promise<never> => {
    throw new RunRefused(why, 2);
  };
  return {
    os,
    unsupported: why,
    dryRun: refuse,
    createTunnel: () => failedTunnel(new RunRefused(why, 2)),
    cleanup: refuse,
  };
}
