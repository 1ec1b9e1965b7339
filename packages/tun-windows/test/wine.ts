/**
 * Whether this is Windows Node running under Wine (CI's Wine step, scripts/ci/wine-tests.sh): Wine's ntdll.dll
 * exports wine_get_version, which Windows' does not (the check Wine's own documentation suggests for
 * programs that must tell). False off Windows.
 */
import koffi from 'koffi';

function detect(): string | undefined {
  if (process.platform !== 'win32') return undefined;
  try {
    const getVersion = koffi.load('ntdll.dll').func('const char *wine_get_version()');
    return String(getVersion());
  } catch {
    return undefined;
  }
}

/** Wine's version ("8.0") under Wine, else undefined. */
export const wineVersion: string | undefined = detect();

/** Why a test that needs what Wine 8 lacks cannot run here, or undefined. */
export function wineLacks(what: string): string | undefined {
  return wineVersion === undefined ? undefined : `Windows Node under Wine ${wineVersion}: ${what}`;
}
