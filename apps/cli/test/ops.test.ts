import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { resolveConfig } from '../src/config.js';
import { DEFAULT_HOOK_TIMEOUT_MS } from '../src/config-ops.js';
import { runHook } from '../src/hooks.js';
import { notifyAddress } from '../src/platform/sd-notify-address.js';
import { openLogFile, writePidFile } from '../src/run-files.js';
import { createTunnel } from '../src/tunnel/create.js';
import { fakePlatform } from './fake-platform.js';

// Issue 16 item 4 without a kernel: config keys, hook runner, files, the sockaddr_un of NOTIFY_SOCKET.

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

describe('operations options', () => {
  it('config: up, down, hook-timeout, log-file, pid-file; bad values are one line', () => {
    const c = resolveConfig({ up: 'ip link show', 'hook-timeout': '2s', 'pid-file': '/run/ztun.pid' });
    expect(c).toMatchObject({ up: 'ip link show', hookTimeoutMs: 2000, pidFile: '/run/ztun.pid' });
    expect(resolveConfig({}).hookTimeoutMs).toBe(DEFAULT_HOOK_TIMEOUT_MS);
    expect(() => resolveConfig({ up: '' })).toThrow(/--up: expected a non-empty string/);
    expect(() => resolveConfig({ 'hook-timeout': 'soon' })).toThrow(
      /--hook-timeout: 'soon' is not a duration/,
    );
  });

  it('runHook: environment in, exit status out, killed past its timeout', async () => {
    const lines: string[] = [];
    const log = { ...quiet, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const dir = mkdtempSync(join(tmpdir(), 'ztun-pd-'));
    const ok = await runHook(
      'up',
      `echo "$ZTUN_IFNAME" > ${dir}/x; exit 0`,
      { ZTUN_IFNAME: 'tun5' },
      5000,
      log,
    );
    expect(ok).toEqual({ code: 0, signal: null, timedOut: false });
    expect(readFileSync(join(dir, 'x'), 'utf8')).toBe('tun5\n');
    expect((await runHook('down', 'exit 7', {}, 5000, log)).code).toBe(7);
    const slow = await runHook('up', 'exec sleep 60', {}, 100, log);
    expect(slow).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
    expect(lines).toEqual([
      'up hook exited 0',
      'down hook exited 7',
      'up hook timed out after 0.1 s and was killed (SIGTERM)',
    ]);
  });

  it('pid file holds our id and goes at the end (not when someone else rewrote it); log lines are timestamped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztun-pd-'));
    const pid = join(dir, 'z.pid');
    writePidFile(pid)();
    expect(existsSync(pid)).toBe(false);
    const remove = writePidFile(pid, 4242);
    expect(readFileSync(pid, 'utf8')).toBe('4242\n');
    writeFileSync(pid, '99\n');
    remove();
    expect(readFileSync(pid, 'utf8')).toBe('99\n');
    expect(() => writePidFile(join(dir, 'no', 'such', 'z.pid'))).toThrow(
      /--pid-file .*: cannot write \(ENOENT\)/,
    );
    const log = openLogFile(join(dir, 'z.log'));
    log.write('ztun: hello\n');
    log.close();
    log.write('ztun: after close\n');
    expect(readFileSync(join(dir, 'z.log'), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z ztun: hello\n$/);
    expect(() => openLogFile(join(dir, 'no', 'z.log'))).toThrow(/--log-file .*: cannot open \(ENOENT\)/);
  });

  it('NOTIFY_SOCKET: path and abstract names as struct sockaddr_un; anything else refused', () => {
    const path = notifyAddress('/run/systemd/notify');
    expect(typeof path !== 'string' && path.length).toBe(2 + '/run/systemd/notify'.length + 1);
    const abstract = notifyAddress('@ztun/x');
    expect(typeof abstract !== 'string' && [abstract.addr[2], abstract.length]).toEqual([0, 2 + 7]);
    expect(notifyAddress('relative')).toMatch(/neither an absolute path/);
    expect(notifyAddress(`/${'x'.repeat(200)}`)).toMatch(/longer than/);
  });

  it('--help, --dry-run lines; createTunnel refuses the run-only files', async () => {
    let out = '';
    const io = {
      stdout: { write: (t: string) => (out += t), isTTY: false },
      stderr: { write: () => {} },
      platform: fakePlatform(),
    };
    await main(['node', 'ztun', 'run', '--help'], io);
    for (const f of [
      '--up <cmd>',
      '--down <cmd>',
      '--hook-timeout',
      '--log-file <file>',
      '--pid-file <file>',
    ])
      expect(out).toContain(f);
    out = '';
    const args = [
      '--auto-route',
      '--up',
      'true',
      '--down',
      'false',
      '--pid-file',
      '/nonexistent/z.pid',
      '--dry-run',
    ];
    expect(await main(['node', 'ztun', 'run', ...args], io)).toBe(0);
    expect(out).toContain('# then: run --up "true" (ZTUN_IFNAME=ztun0)');
    expect(out).toContain('# then: write the process id to /nonexistent/z.pid (removed at exit)');
    const lines = out.trim().split('\n');
    // After the undo lines, before the notes.
    expect(lines.indexOf('# then: run --down "false"')).toBeGreaterThan(
      lines.indexOf('# on SIGINT/SIGTERM, in this order:'),
    );
    const t = createTunnel({ pidFile: '/run/x.pid' } as Parameters<typeof createTunnel>[0], {
      platform: fakePlatform(),
    });
    await expect(t.ready).rejects.toThrow(/logFile and pidFile belong to `ztun run`/);
  });
});
