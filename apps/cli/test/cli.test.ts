import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import { main } from '../src/cli.js';
import { DEFAULT_OFFLOAD } from '../src/config.js';
import { buildPlan } from '../src/platform/plan.linux.js';
import type { Platform } from '../src/platform/types.js';
import { unsupportedPlatform } from '../src/platform/unsupported.js';
import { fakePlatform } from './fake-platform.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');

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

describe('ztun command line (in-process)', () => {
  it('--version and --help exit 0', async () => {
    expect(await cli(['--version'])).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    const help = await cli(['run', '--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--name',
      '--address',
      '--mtu',
      '--proxy',
      '--route',
      '--auto-route',
      '--exclude',
      '--icmp',
      '--udp-timeout',
      '--pcap',
      '--log-level',
      '--stats-interval',
      '--dry-run',
      '--config',
      '--kill-switch',
    ]) {
      expect(help.out).toContain(flag);
    }
  });

  it('--dry-run prints the plan and never calls run', async () => {
    const platform = fakePlatform();
    const r = await cli(['run', '--auto-route', '--exclude', '10.0.0.0/8', '--dry-run'], platform);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('ip -4 rule add pref 9000 to 10.0.0.0/8 lookup main');
    expect(platform.runs).toHaveLength(0);
  });

  it('--dry-run with proxy credentials shows the user, never the password; run gets it decoded', async () => {
    const password = 'p@ss:w/rd%1';
    const proxy = `socks5://ztunuser:${encodeURIComponent(password)}@127.0.0.1:1080`;
    const platform = fakePlatform();
    const r = await cli(
      ['run', '--auto-route', '--proxy', proxy, '--log-level', 'debug', '--dry-run'],
      platform,
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('proxy socks5://ztunuser:***@127.0.0.1:1080');
    for (const secret of [password, encodeURIComponent(password), 'p@ss', 'w/rd']) {
      expect(r.out + r.err).not.toContain(secret);
    }
    expect((await cli(['run', '--auto-route', '--proxy', proxy], platform)).code).toBe(0);
    expect(platform.runs[0]!.config.proxy).toMatchObject({ username: 'ztunuser', password });
  });

  it('run hands the resolved config and plan to the platform; the proxy host gets a bypass rule', async () => {
    const platform = fakePlatform();
    const r = await cli(['run', '--auto-route', '--proxy', 'socks5://127.0.0.1:1080'], platform);
    expect(r.code).toBe(0);
    const run = platform.runs[0]!;
    expect(run.config.autoRoute).toBe(true);
    expect(run.ctx.proxyAddresses).toEqual(['127.0.0.1']);
    const plan = buildPlan(run.config, run.ctx.proxyAddresses);
    expect(plan.routing.steps.some((s) => s.kind === 'rule' && s.rule.dst === '127.0.0.1/32')).toBe(true);
  });

  it('--no-splice turns the splice relay off; it is on by default and from a config file', async () => {
    const platform = fakePlatform();
    expect((await cli(['run', '--route', '10.0.0.0/8'], platform)).code).toBe(0);
    expect((await cli(['run', '--route', '10.0.0.0/8', '--no-splice'], platform)).code).toBe(0);
    expect(platform.runs.map((r) => r.config.splice)).toEqual([true, false]);
  });

  it('--no-offload turns TUN checksum offload off; --offload and the default follow DEFAULT_OFFLOAD', async () => {
    const platform = fakePlatform();
    expect((await cli(['run', '--route', '10.0.0.0/8'], platform)).code).toBe(0);
    expect((await cli(['run', '--route', '10.0.0.0/8', '--no-offload'], platform)).code).toBe(0);
    expect((await cli(['run', '--route', '10.0.0.0/8', '--offload'], platform)).code).toBe(0);
    expect(platform.runs.map((r) => r.config.offload)).toEqual([DEFAULT_OFFLOAD, false, true]);
  });

  it('resolves a proxy host name before the plan (bypass rule, cached address for the run); an unresolvable one gets a note in --dry-run', async () => {
    const byName = fakePlatform();
    expect((await cli(['run', '--auto-route', '--proxy', 'socks5://localhost:1080'], byName)).code).toBe(0);
    const ctx = byName.runs[0]!.ctx;
    expect(ctx.proxy?.source).toBe('hosts'); // /etc/hosts names localhost
    expect(ctx.proxy?.address()).toBe('127.0.0.1');
    expect(ctx.proxyAddresses).toContain('127.0.0.1');
    expect((await cli(['run', '--route', '10.0.0.0/8'], byName)).code).toBe(0);
    expect(byName.runs[1]!.ctx.proxy).toBeUndefined();
    const platform = fakePlatform();
    const r = await cli(
      ['run', '--route', '10.0.0.0/8', '--proxy', 'socks5://no-such-host.invalid:1080', '--dry-run'],
      platform,
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('# note: proxy host no-such-host.invalid did not resolve');
  });

  it('cleanup calls the platform', async () => {
    const platform = fakePlatform();
    expect((await cli(['cleanup'], platform)).code).toBe(0);
    expect(platform.cleanups).toBe(1);
  });

  it.each([
    [['run', '--bogus'], "ztun: unknown option '--bogus'\n"],
    [['run', '--address'], "ztun: option '--address <cidr>' argument missing\n"],
    [['run', '--address', '300.1.1.1/8'], /^ztun: --address: '300.1.1.1\/8' is not a CIDR/],
    [['run', '--proxy', 'socks4://h:1'], /^ztun: --proxy: 'socks4:\/\/h:1' has scheme 'socks4'/],
    [['run', '--icmp', 'loud'], /^ztun: option '--icmp <mode>' argument 'loud' is invalid/],
    [['launch'], /^ztun: unknown command 'launch'/],
  ])('%j → one clear line, exit 2', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('a bad config file → one line naming the file and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztun-cli-'));
    const p = join(dir, 'bad.yaml');
    writeFileSync(p, 'route:\n  - 10.0.0.0/8\n  - nope\n');
    const r = await cli(['run', '--config', p, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`ztun: ${p}: route: 'nope' is not a CIDR: 'nope' is not an IPv4 or IPv6 address\n`);
  });

  it('says clearly that macOS is not supported yet; Windows is (tunnel.windows.test.ts)', async () => {
    const darwin = (await import('../src/platform/darwin.js')).platform;
    const r = await cli(['run'], darwin);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^ztun: ztun run is not supported on macOS yet/);
    const win = (await import('../src/platform/windows.js')).platform;
    expect([win.os, win.unsupported]).toEqual(['win32', undefined]);
    expect((await cli(['run'], unsupportedPlatform('aix', 'no'))).code).toBe(2);
  });
});

describe(
  'dist/bin.js as a process',
  skipUnless(existsSync(bin), 'dist/bin.js is not built: run `pnpm build` first'),
  () => {
    it('runs with node directly: --version, and a bad flag gives one line without a stack trace', () => {
      const v = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
      expect(v.status).toBe(0);
      expect(v.stdout.trim()).toBe(pkg.version);
      const bad = spawnSync(process.execPath, [bin, 'run', '--mtu', 'x'], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toBe("ztun: --mtu: 'x' is not an integer in 576..65535\n");
    });
  },
);
