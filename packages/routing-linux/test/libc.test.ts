/**
 * The shared C library loader (src/libc.linux.ts): sonames in order with the fallback, one clear error when
 * none loads, and the real library on Linux.
 */
import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { LIBC_SONAMES, loadFirstLibrary, loadLinuxLibc } from '../src/libc.linux.js';

describe('loadFirstLibrary', () => {
  it('tries glibc’s soname first, then the unversioned name', () => {
    expect(LIBC_SONAMES).toEqual(['libc.so.6', 'libc.so']);
    const tried: string[] = [];
    const lib = loadFirstLibrary((name) => {
      tried.push(name);
      if (name === 'libc.so.6') throw new Error('libc.so.6: cannot open shared object file');
      return { name };
    });
    expect(lib).toEqual({ name: 'libc.so' });
    expect(tried).toEqual(['libc.so.6', 'libc.so']);
  });

  it('stops at the first library that loads', () => {
    const tried: string[] = [];
    const load = (name: string) => {
      tried.push(name);
      return name;
    };
    expect(loadFirstLibrary(load)).toBe('libc.so.6');
    expect(tried).toEqual(['libc.so.6']);
  });

  it('fails with one line naming every attempt and why', () => {
    expect(() =>
      loadFirstLibrary((name) => {
        throw new Error(`${name} not found`);
      }),
    ).toThrow(
      /^cannot load the C library \(tried libc\.so\.6: libc\.so\.6 not found; libc\.so: libc\.so not found\)$/,
    );
  });
});

describe('loadLinuxLibc', skipUnless(process.platform === 'linux', 'loads the Linux C library'), () => {
  it('calls into the C library, and loads it once', () => {
    const lib = loadLinuxLibc();
    const getpid = lib.func('int getpid(void)') as () => number;
    expect(getpid()).toBe(process.pid);
    expect(loadLinuxLibc()).toBe(lib);
  });
});
