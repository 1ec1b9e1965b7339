import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { readConfigFile, resolveConfig } from '../src/config.js';
import type { Platform } from '../src/platform/types.js';
import { createTunnel } from '../src/tunnel/create.js';
import { fakePlatform } from './fake-platform.js';

// Issue 16 item 1 in the CLI: --include-uid/--exclude-uid/--include-interface/--exclude-interface as config
// keys, flags, createTunnel keys, --dry-run rules; refused with one line off Linux.

async function cli(args: string[], platform: Platform = fakePlatform()) {
  let out = '';
  let err = '';
  const code = await main(['node', 'ztun', ...args], {
    stdout: { write: (t) => (out += t), isTTY: false },
    stderr: { write: (t) => (err += t) },
    platform,
  });
  return { code, out, err };
}

describe('uid and interface selectors (config and CLI)', () => {
  it('resolves flags, lists and numbers from a file; defaults are empty', () => {
    expect(resolveConfig({})).toMatchObject({
      includeUids: [],
      excludeUids: [],
      includeInterfaces: [],
      excludeInterfaces: [],
    });
    const c = resolveConfig({
      'include-uid': ['1000', '2000-2999'],
      'exclude-uid': 0,
      'include-interface': 'br-lan',
      'exclude-interface': ['docker0', 'virbr0'],
    });
    expect(c.includeUids).toEqual([
      { start: 1000, end: 1000 },
      { start: 2000, end: 2999 },
    ]);
    expect(c.excludeUids).toEqual([{ start: 0, end: 0 }]);
    expect(c.includeInterfaces).toEqual(['br-lan']);
    expect(c.excludeInterfaces).toEqual(['docker0', 'virbr0']);
    const dir = mkdtempSync(join(tmpdir(), 'ztun-pd-'));
    const p = join(dir, 'z.yaml');
    writeFileSync(p, 'include-uid: [1001, "5-6"]\nexcludeInterface: docker0\n');
    const f = resolveConfig({}, { path: p, values: readConfigFile(p) });
    expect(f.includeUids).toEqual([
      { start: 1001, end: 1001 },
      { start: 5, end: 6 },
    ]);
    expect(f.excludeInterfaces).toEqual(['docker0']);
  });

  it.each([
    [['--include-uid', 'root'], /--include-uid: 'root' is not a uid or uid range/],
    [['--exclude-uid', '9-3'], /--exclude-uid: '9-3' is not a uid/],
    [['--exclude-uid', '4294967295'], /is not a uid/],
    [['--include-interface', 'a b'], /--include-interface: 'a b' is not an interface name/],
    [['--exclude-interface', 'x'.repeat(16)], /is not an interface name/],
    [['--include-interface', 'ztun0', '--auto-route'], /include interface ztun0 is the tunnel itself/],
  ])('refuses %j with one line', async (args, message) => {
    const r = await cli(['run', ...args, '--dry-run']);
    expect(r.code).not.toBe(0);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.err).toMatch(message);
  });

  it('--help lists the flags; --dry-run shows the rules, in order, and their undo', async () => {
    const help = await cli(['run', '--help']);
    for (const flag of ['--include-uid', '--exclude-uid', '--include-interface', '--exclude-interface'])
      expect(help.out).toContain(flag);
    const r = await cli([
      'run',
      '--auto-route',
      '--include-uid',
      '1001',
      '--include-interface',
      'br-lan',
      '--exclude-uid',
      '1002-1003',
      '--exclude-interface',
      'docker0',
      '--dry-run',
    ]);
    expect(r.code, r.err).toBe(0);
    const rules = r.out.split('\n').filter((l) => l.startsWith('ip -4 rule'));
    expect(rules).toEqual([
      'ip -4 rule add pref 9003 nop',
      'ip -4 rule add pref 9000 uidrange 1002-1003 goto 9003',
      'ip -4 rule add pref 9000 iif docker0 goto 9003',
      'ip -4 rule add pref 9000 fwmark 0x7a74 goto 9003',
      'ip -4 rule add pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 rule add pref 9002 uidrange 1001-1001 lookup 31348',
      'ip -4 rule add pref 9002 iif br-lan lookup 31348',
      'ip -4 rule del pref 9002 iif br-lan lookup 31348',
      'ip -4 rule del pref 9002 uidrange 1001-1001 lookup 31348',
      'ip -4 rule del pref 9001 lookup main suppress_prefixlength 0',
      'ip -4 rule del pref 9000 fwmark 0x7a74 goto 9003',
      'ip -4 rule del pref 9000 iif docker0 goto 9003',
      'ip -4 rule del pref 9000 uidrange 1002-1003 goto 9003',
      'ip -4 rule del pref 9003 nop',
    ]);
    const idle = await cli(['run', '--exclude-uid', '5', '--dry-run']);
    expect(idle.out).toContain('# note: --include-/--exclude-uid and -interface have no effect');
  });

  it('macOS and Windows refuse them with one line (run and createTunnel)', async () => {
    for (const [os, name] of [
      ['darwin', 'macOS'],
      ['win32', 'Windows'],
    ] as const) {
      const platform = { ...fakePlatform(), os };
      const r = await cli(['run', '--auto-route', '--exclude-uid', '1000', '--dry-run'], platform);
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        `ztun: --exclude-uid 1000 is Linux-only (policy routing by uid and interface); not supported on ${name}\n`,
      );
      const t = createTunnel({ includeInterface: 'eth1' }, { platform });
      await expect(t.ready).rejects.toThrow(/--include-interface eth1 is Linux-only/);
      expect(platform.runs).toHaveLength(0);
      expect((await cli(['run', '--auto-route', '--dry-run'], platform)).code).toBe(0);
    }
  });
});
