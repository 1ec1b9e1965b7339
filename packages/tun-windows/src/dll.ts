/** Where wintun.dll is looked for, and the error when it is not there. Pure; any OS. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunError } from './errors.js';

export const WINTUN_DLL = 'wintun.dll';
export const WINTUN_DOWNLOAD_URL = 'https://www.wintun.net/';

/** Folder of the Wintun zip (wintun/bin/<folder>/wintun.dll) that matches a Node `process.arch`. */
export function wintunArchFolder(arch: string): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    case 'ia32':
      return 'x86';
    case 'arm':
      return 'arm';
    default:
      return arch;
  }
}

/** This package's root folder (the one holding package.json), from src/ or dist/. */
export function packageRoot(): string {
  const here = typeof __dirname === 'string' ? __dirname : path.dirname(fileURLToPath(import.meta.url));
  const base = path.basename(here);
  return base === 'dist' || base === 'src' ? path.dirname(here) : here;
}

export interface DllSearch {
  /** A path the caller gave: a file, or a folder holding wintun.dll. If given, it is the only candidate. */
  dllPath?: string | undefined;
  /** Defaults to process.execPath. */
  execPath?: string;
  /** Defaults to packageRoot(). */
  packageDir?: string;
}

/** Candidates in order: the caller's path; else beside the running executable, then in the package folder. */
export function wintunDllCandidates(search: DllSearch = {}): string[] {
  if (search.dllPath !== undefined) {
    const p = search.dllPath;
    return [p.toLowerCase().endsWith('.dll') ? p : path.join(p, WINTUN_DLL)];
  }
  const execDir = path.dirname(search.execPath ?? process.execPath);
  const pkg = search.packageDir ?? packageRoot();
  return [...new Set([path.join(execDir, WINTUN_DLL), path.join(pkg, WINTUN_DLL)])];
}

export function dllNotFoundError(
  candidates: string[],
  arch: string = process.arch,
  cause?: string,
): TunError {
  return new TunError(
    'DLL_NOT_FOUND',
    'load wintun.dll',
    `${cause ?? 'not found'}; looked for ${candidates.join(', ')}. ` +
      `Download Wintun from ${WINTUN_DOWNLOAD_URL} and copy wintun/bin/${wintunArchFolder(arch)}/wintun.dll ` +
      `(it must match this Node's architecture, ${arch}) beside the executable or into this package's folder, ` +
      'or pass dllPath. It is never downloaded at run time.',
  );
}

/** The first candidate that exists, or a DLL_NOT_FOUND error naming all of them. */
export function findWintunDll(search: DllSearch = {}, exists: (p: string) => boolean = existsSync): string {
  const candidates = wintunDllCandidates(search);
  const found = candidates.find((p) => exists(p));
  if (!found) throw dllNotFoundError(candidates);
  return found;
}
