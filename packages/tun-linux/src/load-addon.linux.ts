import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunError } from './errors.js';

const require = createRequire(import.meta.url);

// node-gyp-build picks build/Release (a source build) first, then prebuilds/<platform>-<arch>/ whose tags
// (uv1, glibc) match this process. It ships no types; resolve() is the path it would load, or throws.
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

/** node-gyp in the fix command: the one this package builds with (a test keeps it equal to package.json). */
export const NODE_GYP_VERSION = '11.5.0';

/** The package root: src/ (tests) and dist/ (the published build) both sit one level below it. */
export const packageRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..');

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The one command that builds the addon from source into `root`/build/Release, where the loader looks
 * first. It names the headers of the running Node when they sit beside it (distribution packages, official
 * tarballs), so node-gyp needs no download and no user npmrc; otherwise node-gyp fetches them itself.
 */
export function rebuildCommand(root: string = packageRoot): string {
  const prefix = resolve(dirname(process.execPath), '..');
  const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h'))
    ? ` --nodedir=${shellQuote(prefix)}`
    : '';
  return `npx --yes node-gyp@${NODE_GYP_VERSION} rebuild --directory=${shellQuote(root)}${nodedir}`;
}

export interface LoadedAddon {
  /** The binary that was loaded: `build/Release/ztun_tun.node` or `prebuilds/<platform>-<arch>/…`. */
  path: string;
  exports: unknown;
}

/** The fix named in every load error; the command sits between backticks so scripts can take it out. */
function fix(root: string): string {
  return `build it from source with \`${rebuildCommand(root)}\` (needs python3, make and g++)`;
}

/**
 * Loads the native addon of the package at `root`: a source build, else the matching prebuild shipped in
 * the tarball. Either failure is a TunError naming the command that fixes it (python3, make and a C++
 * compiler needed).
 */
export function loadNativeAddon(root: string = packageRoot): LoadedAddon {
  let path: string;
  try {
    path = nodeGypBuild.resolve(root);
  } catch (cause) {
    // node-gyp-build's own message names the target: "No native build was found for platform=linux arch=…".
    const target = String((cause as Error).message ?? cause)
      .split('\n')[0]!
      .replace(/^No native build was found for /, '');
    throw new TunError(
      'load native addon',
      'ENOENT',
      constants.errno.ENOENT,
      `no build/Release and no prebuild in ${join(root, 'prebuilds')} for ${target}; ${fix(root)}`,
      { cause },
    );
  }
  try {
    return { path, exports: require(path) };
  } catch (cause) {
    throw new TunError(
      'load native addon',
      'ENOEXEC',
      constants.errno.ENOEXEC,
      `${path} does not load: ${(cause as Error).message}; ${fix(root)}`,
      { cause },
    );
  }
}

let loaded: LoadedAddon | undefined;

/** This package's addon, loaded once. */
export function nativeAddon(): LoadedAddon {
  loaded ??= loadNativeAddon();
  return loaded;
}

/**
 * Where this package's native addon loads from (a source build or the prebuild for this platform); throws
 * the loader's TunError, whose message is the command that fixes it, when there is none that loads.
 */
export function nativeAddonPath(): string {
  return nativeAddon().path;
}
