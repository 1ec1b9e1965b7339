// The splice relay's hand-over leans on Node internals (src/node-socket-internals.ts) and the addon's
// teardown safety on how Node tears an environment down: both are checked here on every supported Node
// major, with the same addon (Node-API: one binary for all). The binaries come from the npm registry
// (node-linux-<arch>): `node packages/tun-linux/scripts/install-node-majors.mjs` installs them. A missing one
// fails this test with that command; nothing is skipped silently.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, type Netns, netnsSkipReason, skipUnless, skipWhen } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const linux = process.platform === 'linux';
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const installer = fileURLToPath(new URL('../scripts/install-node-majors.mjs', import.meta.url));
const versions = Object.entries(
  JSON.parse(readFileSync(new URL('./node-majors.json', import.meta.url), 'utf8')) as Record<string, string>,
).filter(([major]) => /^\d+$/.test(major));
const dir =
  process.env.ZTUN_NODE_MAJORS_DIR ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ztun', 'node-majors');

/** The Node binary for `major`: the pinned install, or the running Node when it is that major. */
function nodeBinary(major: string, version: string): string {
  const installed = join(dir, `node${major}`, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
  if (existsSync(installed)) return installed;
  if (process.versions.node.split('.')[0] === major) return process.execPath;
  throw new Error(
    `Node ${major} is needed to check the splice hand-over and teardown on every supported major, and ` +
      `${installed} is missing. Install it (from the npm registry) with:\n` +
      `  node ${installer}\n` +
      `or: npm install --prefix ${join(dir, `node${major}`)} --save-exact node-linux-${process.arch}@${version}`,
  );
}

function run(bin: string, args: string[]) {
  return spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000 });
}

const skip = netnsSkipReason();

describe('every supported Node major', skipUnless(linux, `needs Linux (this is ${process.platform})`), () => {
  let ns: Netns | undefined;
  beforeAll(() => {
    expect(existsSync(dist), `build the package first (pnpm turbo run build): ${dist}`).toBe(true);
    if (!skip) ns = createNetns('nvmj');
  });
  afterAll(async () => {
    await ns?.dispose();
  });

  for (const [major, version] of versions) {
    describe(`Node ${major}`, () => {
      it('splices with the hand-over contract intact: exact bytes, no fallback, a restart refused', () => {
        const bin = nodeBinary(major, version);
        const r = run(bin, [fixture('splice-handover.mjs'), dist]);
        expect(r.status, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout.trim());
        expect(out.node.split('.')[0]).toBe(`v${major}`);
        expect(out).toMatchObject({
          canSplice: true,
          atB: 'exact',
          atA: 'exact',
          result: { reason: 'eof', bytesAtoB: 6 + (4 << 20), bytesBtoA: 1 << 20 },
          reset: { reason: 'error', side: 'a', code: 'ECONNRESET', peerB: 'ECONNRESET' },
        });
        // The only warning is the one the check provokes on purpose.
        expect(out.warnings).toHaveLength(1);
        expect(out.warnings[0]).toMatch(/ZTUN_SPLICE_NODE_INTERNALS: .*tried to restart reading.*refused/);
      });

      it('exits 0 with splice relay reports pending at teardown', () => {
        const r = run(nodeBinary(major, version), [fixture('relay-exit.mjs'), dist, '50']);
        expect(r.stderr).not.toMatch(/FATAL ERROR/);
        expect(r.status).toBe(0);
        expect(JSON.parse(r.stdout.trim())).toEqual({ pairs: 50, finished: 50, fdsPerPair: 0 });
      });

      it(
        'exits 0 when a worker leaves with its TUN device open (exit / terminate)',
        skipWhen(skip),
        async () => {
          const bin = nodeBinary(major, version);
          for (const [mode, workerExit] of [
            ['exit', 0],
            ['terminate', 1],
          ] as const) {
            const r = ns!.tryExec(bin, [fixture('worker-device-exit.mjs'), dist, mode]);
            expect(r.stderr).not.toMatch(/FATAL ERROR|Segmentation/);
            expect(r.status).toBe(0);
            expect(JSON.parse(r.stdout.trim())).toEqual({ workerExit, linkGone: true });
          }
        },
      );
    });
  }
});
