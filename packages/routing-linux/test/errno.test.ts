/**
 * The one Linux errno table (src/codec/errno.ts): every name once, every number once, and — on Linux x64/arm64,
 * the numbering it is taken from — the same numbers as Node's own table (os.constants.errno, read from the C
 * library's headers when Node was built).
 */
import { constants } from 'node:os';
import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { ERRNO, errnoName } from '../src/codec/errno.js';
import * as pkg from '../src/index.js';

describe('Linux errno table', () => {
  it('names every number once and round-trips', () => {
    const entries = Object.entries(ERRNO);
    expect(entries.length).toBeGreaterThan(120);
    expect(new Set(entries.map(([, n]) => n)).size).toBe(entries.length);
    for (const [name, n] of entries) expect(errnoName(n)).toBe(name);
  });

  it('covers what the TUN and splice code report, and names unknown numbers', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(11)).toBe('EAGAIN'); // not its alias EWOULDBLOCK
    expect(errnoName(24)).toBe('EMFILE');
    expect(errnoName(77)).toBe('EBADFD');
    expect(errnoName(104)).toBe('ECONNRESET');
    expect(errnoName(105)).toBe('ENOBUFS');
    expect(errnoName(133)).toBe('EHWPOISON');
    expect(errnoName(0)).toBe('E0');
    expect(errnoName(99999)).toBe('E99999');
    expect(errnoName(-1)).toBe('E-1');
  });

  it('is the table the package exports', () => {
    expect(pkg.errnoName).toBe(errnoName);
  });

  it(
    'agrees with Node’s table on this host',
    skipUnless(
      process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64'),
      'the table is the x64/arm64 Linux numbering; this host is another',
    ),
    () => {
      const node = constants.errno as Record<string, number>;
      let compared = 0;
      for (const [name, n] of Object.entries(ERRNO)) {
        if (node[name] === undefined) continue; // names Node leaves out (EBADFD, ERFKILL…)
        expect(`${name}=${n}`).toBe(`${name}=${node[name]}`);
        compared++;
      }
      expect(compared).toBeGreaterThan(70);
    },
  );
});
