// Issue 10 item 6: a native callback must never call (or throw) into an environment that is being torn
// down. Before the fix each of these child processes died with "FATAL ERROR:
// Error::ThrowAsJavaScriptException napi_throw" (exit 134) from ztun_tun.node in
// node::Environment::CleanupHandles, or with SIGSEGV when a worker left a poll handle closing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNetns, type Netns, netnsSkipReason, skipUnless, skipWhen } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished } from './echo.js';

const linux = process.platform === 'linux';
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe(
  'environment teardown with the addon busy',
  skipUnless(linux, `needs Linux (this is ${process.platform})`),
  () => {
    it('a process exits 0 while splice relay reports are still on their way to JS', () => {
      expect(existsSync(dist), `build the package first (pnpm turbo run build): ${dist}`).toBe(true);
      const r = spawnSync(process.execPath, [fixture('relay-exit.mjs'), dist, '50'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.stderr).not.toMatch(/FATAL ERROR/);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout.trim())).toEqual({ pairs: 50, finished: 50, fdsPerPair: 0 });
    });
  },
);

const skip = netnsSkipReason();

describe('a worker thread that opens a TUN device and goes away without closing it', skipWhen(skip), () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns('nvtd');
  });
  afterAll(async () => {
    await ns?.dispose();
  });

  for (const [mode, workerExit] of [
    ['exit', 0],
    ['close-pending', 0],
    ['terminate', 1],
    ['terminate-closing', 1],
    ['exit-writer', 0],
    ['terminate-writer', 1],
  ] as const) {
    it(`${mode}: the process goes on, exits 0, and the device is gone`, async () => {
      expect(existsSync(dist), `build the package first (pnpm turbo run build): ${dist}`).toBe(true);
      const child = ns.spawn(process.execPath, [fixture('worker-device-exit.mjs'), dist, mode]);
      const code = await finished(child);
      expect(child.output()).not.toMatch(/FATAL ERROR|Segmentation/);
      expect(code).toBe(0);
      expect(JSON.parse(child.output().trim())).toEqual({ workerExit, linkGone: true });
    });
  }
});

describe(
  'a worker thread that holds batch-path UDP relays and goes away without closing them',
  skipWhen(skip),
  () => {
    let ns: Netns;
    beforeAll(() => {
      ns = createNetns('nvur');
    });
    afterAll(async () => {
      await ns?.dispose();
    });

    for (const [mode, workerExit] of [
      ['exit', 0],
      ['terminate', 1],
    ] as const) {
      it(`${mode}: the process goes on and exits 0`, async () => {
        expect(existsSync(dist), `build the package first (pnpm turbo run build): ${dist}`).toBe(true);
        const child = ns.spawn(process.execPath, [fixture('worker-udp-relay-exit.mjs'), dist, mode]);
        const code = await finished(child);
        expect(child.output()).not.toMatch(/FATAL ERROR|Segmentation/);
        expect(code).toBe(0);
        expect(JSON.parse(child.output().trim())).toEqual({ workerExit, sawDatagrams: true });
      });
    }
  },
);
