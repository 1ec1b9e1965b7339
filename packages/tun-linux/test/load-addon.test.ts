// The loader: a source build or the prebuild node-gyp-build picks for this platform, arch and libc; anything
// else is a TunError whose message is the one command that fixes it. Each case lays out a package root of
// its own in a temp dir, with the source build's binary standing in for a prebuild.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TunError } from '../src/errors.js';
import {
  loadNativeAddon,
  NODE_GYP_VERSION,
  nativeAddonPath,
  packageRoot,
  rebuildCommand,
} from '../src/load-addon.linux.js';

const linux = process.platform === 'linux';
if (!linux) console.warn('[skip] tun-linux addon loader tests: Linux only');
const sourceBuild = join(packageRoot, 'build', 'Release', 'ztun_tun.node');
const roots: string[] = [];

/** A package root with only package.json, plus `files` (relative path → bytes to copy from). */
function fakePackage(files: Record<string, string> = {}, name = 'with space'): string {
  const root = mkdtempSync(join(tmpdir(), `ztun-loader-${name} `));
  roots.push(root);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@ztun/tun-linux' }));
  for (const [path, from] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    copyFileSync(from, join(root, path));
  }
  return root;
}

function loadError(root: string): TunError {
  try {
    loadNativeAddon(root);
  } catch (err) {
    expect(err).toBeInstanceOf(TunError);
    return err as TunError;
  }
  throw new Error(`loadNativeAddon(${root}) did not throw`);
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!linux)('loadNativeAddon', () => {
  const prebuild = `prebuilds/linux-${process.arch}/@ztun+tun-linux.uv1.glibc.node`;

  it('in the workspace loads the source build, which wins over prebuilds', () => {
    expect(existsSync(sourceBuild)).toBe(true);
    expect(nativeAddonPath()).toBe(sourceBuild);
  });

  it('loads the prebuild for this platform, arch and glibc when there is no source build', () => {
    const root = fakePackage({ [prebuild]: sourceBuild });
    const { path, exports } = loadNativeAddon(root);
    const addon = exports as { TunIo: unknown; counterCount: unknown };
    expect(path).toBe(join(root, prebuild));
    expect(typeof addon.TunIo).toBe('function');
    expect(addon.counterCount).toEqual(expect.any(Number));
  });

  it('without a matching binary throws ENOENT naming the one command that builds it', () => {
    // A musl-tagged prebuild must be passed over on glibc (and a glibc one on musl, by the same tag).
    const root = fakePackage({ [prebuild.replace('glibc', 'musl')]: sourceBuild });
    const err = loadError(root);
    expect(err.code).toBe('ENOENT');
    expect(err.operation).toBe('load native addon');
    expect(err.message).toContain(
      `no prebuild in ${join(root, 'prebuilds')} for platform=linux arch=${process.arch}`,
    );
    expect(err.message).toContain(`build it from source with \`${rebuildCommand(root)}\``);
    expect(rebuildCommand(root)).toContain(
      `npx --yes node-gyp@${NODE_GYP_VERSION} rebuild --directory='${root}'`,
    );
  });

  it('with a binary that does not load throws ENOEXEC naming the same command', () => {
    const root = fakePackage({ [prebuild]: join(packageRoot, 'package.json') });
    const err = loadError(root);
    expect(err.code).toBe('ENOEXEC');
    expect(err.message).toContain(join(root, prebuild));
    expect(err.message).toContain(`build it from source with \`${rebuildCommand(root)}\``);
  });

  it('names the headers of the running Node when they sit beside it', () => {
    const prefix = join(process.execPath, '..', '..');
    const local = existsSync(join(prefix, 'include', 'node', 'node_api.h'));
    expect(rebuildCommand(packageRoot).includes(' --nodedir=')).toBe(local);
  });

  it('pins the node-gyp of package.json in the command', () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'));
    expect(NODE_GYP_VERSION).toBe(pkg.devDependencies['node-gyp']);
  });
});
