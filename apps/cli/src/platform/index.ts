import type { Platform } from './types.js';
import { unsupportedPlatform } from './unsupported.js';

/** Loads the platform module for this OS (only that one: the others' native bindings are never touched). */
export async function loadPlatform(os: NodeJS.Platform = process.platform): Promise<Platform> {
  switch (os) {
    case 'linux':
      return (await import('./linux.js')).platform;
    case 'darwin':
      return (await import('./darwin.js')).platform;
    case 'win32':
      return (await import('./windows.js')).platform;
    default:
      return unsupportedPlatform(os, `ztun run is not supported on ${os}; Linux only for now`);
  }
}
