import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config.js';
import { loadPlatform } from '../src/platform/index.js';
import { type Platform, RunRefused, type TunnelContext } from '../src/platform/types.js';

// How Node reports an import of a package that is not installed (ESM and CJS builds of ztun).
function notFound(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('loadPlatform', () => {
  it('turns a missing OS package into a platform that refuses run with one line naming it', async () => {
    for (const err of [
      notFound(
        'ERR_MODULE_NOT_FOUND',
        "Cannot find package '@ztun/tun-linux' imported from /app/dist/linux.js",
      ),
      notFound(
        'MODULE_NOT_FOUND',
        "Cannot find module '@ztun/routing-linux'\nRequire stack:\n- /app/dist/index.cjs",
      ),
    ]) {
      const platform = await loadPlatform('linux', { linux: () => Promise.reject(err) });
      const name = err.message.includes('tun-linux') ? '@ztun/tun-linux' : '@ztun/routing-linux';
      expect(platform.unsupported).toBe(
        `ztun run on linux needs ${name} (an optional dependency of ztun), which is not installed: npm install @ztun/tun-linux @ztun/routing-linux`,
      );
      await expect(platform.createTunnel({} as RunConfig, {} as TunnelContext).ready).rejects.toBeInstanceOf(
        RunRefused,
      );
    }
  });

  it('rethrows any other import failure', async () => {
    const other = notFound(
      'ERR_MODULE_NOT_FOUND',
      "Cannot find package 'commander' imported from /app/dist/cli.js",
    );
    await expect(loadPlatform('linux', { linux: () => Promise.reject(other) })).rejects.toBe(other);
    const broken = new SyntaxError('Unexpected token');
    await expect(loadPlatform('linux', { linux: () => Promise.reject(broken) })).rejects.toBe(broken);
  });

  it('loads only the importer of the OS asked for', async () => {
    const loaded: string[] = [];
    const fake = (os: string) => async () => {
      loaded.push(os);
      return { platform: { os } as Platform };
    };
    const load = { linux: fake('linux'), darwin: fake('darwin'), win32: fake('win32') };
    expect((await loadPlatform('darwin', load)).os).toBe('darwin');
    expect(loaded).toEqual(['darwin']);
    expect((await loadPlatform('aix', load)).unsupported).toMatch(/not supported on aix/);
    expect(loaded).toEqual(['darwin']);
  });
});
