import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  netnsSkipReason,
  skipWhen,
  spawnWithBindMounts,
  systemUserMounts,
  tryCommand,
  withNetnsEnvironment,
} from '../src/index.js';

describe('testkit private mount namespaces', skipWhen(netnsSkipReason()), () => {
  it('shows a test user only to the spawned process, whose PID is the command itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztun-tk-mnt-'));
    const hostPasswd = readFileSync('/etc/passwd', 'utf8');
    try {
      await withNetnsEnvironment('tkm', ['a'], async ({ ns }) => {
        const mounts = systemUserMounts(dir, 'ztuntk', 'p@ss:w0rd');
        // perl checks the password the way a server does: crypt(pw, stored hash) === stored hash.
        const check =
          'my @e = getpwnam($ARGV[0]); print "$$ ", (crypt($ARGV[1], $e[1]) eq $e[1] ? "ok" : "bad"), "\n"';
        const good = spawnWithBindMounts(ns.a!, mounts, 'perl', ['-e', check, 'ztuntk', 'p@ss:w0rd']);
        const bad = spawnWithBindMounts(ns.a!, mounts, 'perl', ['-e', check, 'ztuntk', 'wrong']);
        expect(await good.exited).toBe(0);
        expect(await bad.exited).toBe(0);
        // exec all the way down: the PID we hold (and would stop) is perl's.
        expect(good.output()).toBe(`${good.child.pid} ok\n`);
        expect(bad.output()).toBe(`${bad.child.pid} bad\n`);
      });
      expect(readFileSync('/etc/passwd', 'utf8')).toBe(hostPasswd);
      expect(tryCommand('getent', ['passwd', 'ztuntk']).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed bind mount stops before running the command', async () => {
    await withNetnsEnvironment('tkm', ['a'], async ({ ns }) => {
      const p = spawnWithBindMounts(ns.a!, [{ source: '/nonexistent/x', target: '/etc/passwd' }], 'echo', [
        'ran',
      ]);
      expect(await p.exited).toBe(125);
      expect(p.output()).not.toContain('ran');
    });
  });
});
