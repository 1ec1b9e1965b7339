// SIGKILL of a running Windows tunnel (in a child process, over the fake Windows of fake-windows.ts whose IP
// Helper state the child writes to a file as it goes): what is left is what Windows keeps — the tagged routes on
// the physical interface, once the adapter has gone with the process — and `ztun cleanup` restores the state
// from before the run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { windowsPlatform } from '../src/platform/windows.js';
import { fakeWindows } from './fake-windows.js';
import { loadIp } from './fake-windows-state.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
// Inside the package's node_modules, so the bundle's `import 'koffi'` (left external) resolves.
const cache = join(here, '..', 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const work = mkdtempSync(join(cache, 'ztun-wkill-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function esbuild(): string {
  for (const p of ['node_modules/.bin/esbuild', 'node_modules/.pnpm/node_modules/.bin/esbuild']) {
    const r = spawnSync(join(root, p), ['--version']);
    if (r.status === 0) return join(root, p);
  }
  throw new Error('no esbuild (tsup installs it: pnpm install)');
}

describe('the Windows tunnel killed with SIGKILL', () => {
  it('leaves only tagged routes on the physical interface, and ztun cleanup removes them', async () => {
    const child = join(work, 'child.mjs');
    const bundled = spawnSync(esbuild(), [
      join(here, 'fixtures', 'windows-kill-child.ts'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--external:koffi',
      // CommonJS dependencies (commander…) require Node's modules: give the ESM bundle a require.
      "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      `--outfile=${child}`,
      '--log-level=error',
    ]);
    expect(bundled.status, String(bundled.stderr)).toBe(0);
    const stateFile = join(work, 'state.json');
    const p = spawn(process.execPath, [child, stateFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d) => String(d).includes('ready') && resolve());
      p.once('exit', (code) => reject(new Error(`child exited ${code} before ready: ${err}`)));
    });
    const exited = new Promise((r) => p.once('exit', (_c, sig) => r(sig)));
    p.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const w = fakeWindows();
    loadIp(w.ip, readFileSync(`${stateFile}.before`, 'utf8'));
    const initial = w.state();
    loadIp(w.ip, readFileSync(stateFile, 'utf8'));
    expect(w.state()).toContain('if 14918173849550848'); // the adapter, as the child last saw it
    w.wintun.existingAdapters.add('ztun0');
    w.kill(); // Windows removes the adapter of a dead process, with its addresses and routes
    const left = w.state().filter((s) => !initial.includes(s));
    expect(left).toHaveLength(1); // 10.0.0.0/8 via Ethernet, tagged
    expect(left[0]).toMatch(/^route 1688849877041152\/2\/0a000000\/8\//); // PHYSICAL_LUID/AF_INET/10.0.0.0/8
    const lines: string[] = [];
    await windowsPlatform(w.system).cleanup({
      log: createLogger('info', (l) => lines.push(l)),
      name: 'ztun0',
    });
    expect(w.state()).toEqual(initial);
    expect(lines.join('')).toContain('removed 1 route(s) tagged by ztun');
  });
});
