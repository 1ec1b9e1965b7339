import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { resolveConfig } from '../src/config.js';
import { buildPlan, formatPlan } from '../src/platform/plan.linux.js';
import type { Platform } from '../src/platform/types.js';
import { fakePlatform } from './fake-platform.js';

// Issue 16 item 2 in the CLI: the fd key and flag, its conflicts, the plan without link changes.

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

describe('--fd (config and plan)', () => {
  it('takes a descriptor number ≥ 3 from a flag or a file value', () => {
    expect(resolveConfig({}).fd).toBeUndefined();
    expect(resolveConfig({ fd: '3' }).fd).toBe(3);
    expect(resolveConfig({ fd: 7 }).fd).toBe(7);
  });

  it.each([
    [['--fd', '1'], /--fd: '1' is not a descriptor number of 3 or more/],
    [['--fd', 'x'], /--fd: 'x' is not a descriptor number/],
    [['--fd', '3', '--mtu', '1400'], /--mtu: cannot be combined with --fd/],
    [['--fd', '3', '--name', 'tun9'], /--name: cannot be combined with --fd/],
    [['--fd', '3', '--txqueuelen', '9'], /--txqueuelen: cannot be combined with --fd/],
  ])('refuses %j with one line', async (args, message) => {
    const r = await cli(['run', ...args, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.err).toMatch(message);
  });

  it('the plan adopts instead of creating: no link add, no link up, addresses only where missing; undo closes the duplicate', () => {
    const config = { ...resolveConfig({ fd: 3, 'auto-route': true }), name: 'tun7' };
    const text = formatPlan(config, buildPlan(config));
    expect(text).toContain("# adopt the TUN on fd 3 (tun7): its link, MTU and flags stay its owner's");
    expect(text).toContain('ip addr add 198.18.0.1/15 dev tun7');
    expect(text).toContain('ip -4 route add default dev tun7 table 31348 proto 122');
    expect(text).toContain("# close ztun's duplicate of fd 3 (tun7 stays with its owner)");
    expect(text).toContain('# note: --fd: addresses tun7 already has are left as they are');
    expect(text).not.toMatch(/tuntap|link set|link del/);
  });

  it('--help lists it; macOS and Windows refuse it with one line', async () => {
    expect((await cli(['run', '--help'])).out).toContain('--fd <n>');
    const r = await cli(['run', '--fd', '3', '--dry-run'], { ...fakePlatform(), os: 'darwin' });
    expect(r.err).toBe('ztun: --fd 3 is Linux-only (adopting a TUN descriptor); not supported on macOS\n');
  });
});
