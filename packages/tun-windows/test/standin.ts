/**
 * The C stand-in library (test/fixtures/windows-standin.c) the binding tests load with koffi:
 *  - on Linux, compiled here with cc/gcc (or g++ -x c) into a .so per variant;
 *  - on Windows Node (CI runs it under Wine: scripts/ci/wine-tests.sh), prebuilt with x86_64-w64-mingw32-gcc
 *    into $ZTUN_STANDIN_DIR/<variant>.dll, since there is no compiler on that side.
 * Variants: "full" (every export), "wine-iphlpapi" (without the iphlpapi exports Wine 8 lacks).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type StandinVariant = 'full' | 'wine-iphlpapi';

const DEFINES: Record<StandinVariant, string[]> = {
  full: [],
  'wine-iphlpapi': ['-DSTANDIN_WINE_IPHLPAPI'],
};

/** A C compiler: cc or gcc, else g++ told the source is C (CI installs g++ for tun-linux's addon). */
function findCompiler(): { cmd: string; args: string[] } | string {
  for (const [cmd, args] of [
    ['cc', []],
    ['gcc', []],
    ['g++', ['-x', 'c']],
  ] as const) {
    try {
      execFileSync(cmd, ['--version'], { stdio: 'ignore' });
      return { cmd, args: [...args] };
    } catch {}
  }
  return 'no C compiler (cc, gcc or g++) is installed';
}

const onWindows = process.platform === 'win32';
const prebuilt = process.env.ZTUN_STANDIN_DIR;
const compiler = onWindows ? undefined : process.platform === 'linux' ? findCompiler() : undefined;

/** Why the stand-in cannot be had here, or undefined. */
export const standinSkipReason: string | undefined = onWindows
  ? prebuilt && existsSync(path.join(prebuilt, 'full.dll'))
    ? undefined
    : 'Windows stand-in binding tests need the DLLs scripts/ci/wine-tests.sh builds with mingw (ZTUN_STANDIN_DIR)'
  : process.platform !== 'linux'
    ? `Windows stand-in binding tests run on Linux or Windows Node (this is ${process.platform})`
    : typeof compiler === 'string'
      ? `Windows stand-in binding tests need a C compiler: ${compiler}`
      : undefined;

/** True when the stand-in is the Windows DLL: kernel32 is then the real (or Wine's) kernel32.dll. */
export const standinIsDll = onWindows;

const built: string[] = [];

/** The path of the variant's library (compiled into a temporary folder on Linux). */
export function standinPath(variant: StandinVariant): string {
  if (onWindows) return path.join(prebuilt!, `${variant}.dll`);
  const cc = compiler as { cmd: string; args: string[] };
  const dir = mkdtempSync(path.join(tmpdir(), 'ztun-standin-'));
  built.push(dir);
  const so = path.join(dir, `${variant}.so`);
  const src = path.join(__dirname, 'fixtures', 'windows-standin.c');
  execFileSync(cc.cmd, [
    ...cc.args,
    ...DEFINES[variant],
    src,
    '-shared',
    '-fPIC',
    '-O1',
    '-Wall',
    '-Werror',
    '-pthread',
    '-o',
    so,
  ]);
  return so;
}

/** Removes what standinPath compiled. */
export function removeStandins(): void {
  for (const dir of built.splice(0)) rmSync(dir, { recursive: true, force: true });
}
