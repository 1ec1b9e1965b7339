import type { Platform } from './types.js';
import { unsupportedPlatform } from './unsupported.js';

/** The OS packages each platform module imports: optionalDependencies of `ztun`, installed only on their OS. */
export const OS_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  linux: ['@ztun/tun-linux', '@ztun/routing-linux'],
  win32: ['@ztun/tun-windows'],
};

type PlatformImporter = () => Promise<{ platform: Platform }>;

const importers: Readonly<Record<string, PlatformImporter>> = {
  linux: () => import('./linux.js'),
  darwin: () => import('./darwin.js'),
  win32: () => import('./windows.js'),
};

/** The OS package a failed import names when it is one of `packages` that is not installed, else undefined. */
function missingOsPackage(err: unknown, packages: readonly string[]): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const message = String((err as { message?: unknown }).message);
  return packages.find((name) => message.includes(`'${name}'`) || message.includes(`"${name}"`));
}

/**
 * Loads the platform module for this OS, and through it only this OS's packages (the others' native
 * bindings are never touched). A missing OS package (an install with --omit=optional, or one made for
 * another OS) gives a platform that refuses `run` with one line naming it; `--help` and the rest still work.
 */
export async function loadPlatform(
  os: NodeJS.Platform = process.platform,
  load: Readonly<Record<string, PlatformImporter>> = importers,
): Promise<Platform> {
  const importer = load[os];
  if (!importer)
    return unsupportedPlatform(os, `ztun run is not supported on ${os}; Linux and Windows only for now`);
  try {
    return (await importer()).platform;
  } catch (err) {
    const missing = missingOsPackage(err, OS_PACKAGES[os] ?? []);
    if (missing === undefined) throw err;
    return unsupportedPlatform(
      os,
      `ztun run on ${os} needs ${missing} (an optional dependency of ztun), which is not installed: npm install ${(OS_PACKAGES[os] ?? []).join(' ')}`,
    );
  }
}
