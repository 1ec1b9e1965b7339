import koffi from 'koffi';

// The one way ztun's Linux packages open the C library through koffi (@ztun/tun-linux and the CLI use it
// too). `libc.so.6` is glibc's soname (and a name musl's loader answers to); `libc.so` is the unversioned
// name other libcs install. Loaded on first use, so importing a package on macOS/Windows never touches it.

/** Sonames tried in order. */
export const LIBC_SONAMES = ['libc.so.6', 'libc.so'] as const;

/** Opens the first library `load` accepts among `names`; when none loads, one error naming every attempt. */
export function loadFirstLibrary<T>(load: (name: string) => T, names: readonly string[] = LIBC_SONAMES): T {
  const failures: string[] = [];
  for (const name of names) {
    try {
      return load(name);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot load the C library (tried ${failures.join('; ')})`);
}

let libc: koffi.IKoffiLib | undefined;

/** The C library as a koffi library, loaded on first call and shared. */
export function loadLinuxLibc(): koffi.IKoffiLib {
  libc ??= loadFirstLibrary((name) => koffi.load(name));
  return libc;
}
