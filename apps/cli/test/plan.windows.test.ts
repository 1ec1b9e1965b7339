// The Windows plan (platform/plan.windows.ts) and `ztun run --dry-run --platform win32` on any OS.
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { resolveConfig } from '../src/config.js';
import { buildWindowsPlan, formatWindowsPlan, windowsRefusal } from '../src/platform/plan.windows.js';

const egress = {
  4: {
    family: 4 as const,
    luid: 1n,
    index: 5,
    alias: 'Ethernet',
    gateway: '192.168.1.1',
    source: '192.168.1.10',
  },
};

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(['node', 'ztun', ...args], {
    stdout: { write: (t) => (out += t), isTTY: false },
    stderr: { write: (t) => (err += t) },
  });
  return { code, out, err };
}

describe('the Windows plan', () => {
  it('--auto-route: the two halves on the adapter, host routes for the proxy and excludes via the gateway', () => {
    const config = resolveConfig({
      'auto-route': true,
      address: ['198.18.0.1/15', 'fd00:7a74::1/64'],
      exclude: ['10.1.2.3/8'],
      proxy: 'socks5://203.0.113.7:1080',
    });
    const plan = buildWindowsPlan(config, ['203.0.113.7'], egress);
    expect(
      plan.routes.map((r) => `${r.on} ${r.destination.address}/${r.destination.prefixLength} ${r.why}`),
    ).toEqual([
      'tunnel 0.0.0.0/1 capture',
      'tunnel 128.0.0.0/1 capture',
      'tunnel ::/1 capture',
      'tunnel 8000::/1 capture',
      'egress 203.0.113.7/32 proxy',
      'egress 10.0.0.0/8 exclude',
    ]);
    // IPv6 is captured but there is no IPv6 egress: said, not hidden.
    expect(plan.notes).toContain(
      "no IPv6 default route outside the tunnel was found: ztun's own IPv6 sockets are refused, and IPv6 host/exclude routes cannot be added",
    );
    const text = formatWindowsPlan(config, plan);
    expect(text).toContain('# ztun run --dry-run (Windows): 9 changes; nothing was changed');
    expect(text).toContain(
      'New-NetRoute -InterfaceAlias "Ethernet" -DestinationPrefix 203.0.113.7/32 -NextHop 192.168.1.1 -RouteMetric 7024 -Protocol NetMgmt  # proxy',
    );
    expect(text).toContain('outbound sockets bound to 192.168.1.10 (Ethernet)');
    // Undo in reverse: the last route added is the first removed, the adapter last.
    const lines = text.trim().split('\n');
    const undo = lines.slice(lines.indexOf('# on Ctrl+C, SIGTERM or console close, in this order:') + 1);
    expect(undo[0]).toMatch(/^Remove-NetRoute .*10\.0\.0\.0\/8/);
    expect(undo[5]).toMatch(/^Remove-NetRoute .*0\.0\.0\.0\/1/);
    expect(undo[6]).toMatch(/^# WintunCloseAdapter "ztun0"/);
  });

  it('without --auto-route the --route prefixes go to the adapter (networks, host bits cleared)', () => {
    const config = resolveConfig({ route: ['10.1.2.3/8', '172.16.0.0/12'] });
    const plan = buildWindowsPlan(config, [], undefined);
    expect(plan.routes.map((r) => `${r.on} ${r.destination.address}/${r.destination.prefixLength}`)).toEqual([
      'tunnel 10.0.0.0/8',
      'tunnel 172.16.0.0/12',
    ]);
    expect(plan.notes).toEqual([]); // egress not read (another OS): no claims about it
  });

  it('refuses --kill-switch in one line', () => {
    expect(windowsRefusal(resolveConfig({ 'kill-switch': true }))).toMatch(
      /^--kill-switch is not available on Windows/,
    );
    expect(windowsRefusal(resolveConfig({}))).toBeUndefined();
  });
});

describe('ztun run --dry-run --platform win32', () => {
  it('prints the Windows plan on any OS, with placeholders for what only Windows knows', async () => {
    const r = await cli([
      'run',
      '--auto-route',
      '--exclude',
      '10.0.0.0/8',
      '--dry-run',
      '--platform',
      'win32',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# ztun run --dry-run \(Windows\): \d+ changes; nothing was changed\n/);
    expect(r.out).toContain('New-NetRoute -InterfaceAlias "ztun0" -DestinationPrefix 0.0.0.0/1');
    expect(r.out).toContain(
      '-InterfaceAlias "<IPv4 physical interface>" -DestinationPrefix 10.0.0.0/8 -NextHop <its gateway>',
    );
  });

  it('--platform without --dry-run is one line and exit 2', async () => {
    const r = await cli(['run', '--platform', 'win32']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'ztun: --platform win32 only goes with --dry-run: ztun runs on the OS it is on',
    );
  });
});
