/**
 * The published shape works: `npm pack` the package, install the tarball into an empty project outside the
 * repo (offline: no dependencies), then `import` (ESM) and `require` (CJS) it, and typecheck a .mts and a
 * .cts consumer with tsc (module nodenext) — including a deliberate type error, so `any` types would fail —
 * and the types-only device contract (TunDevice, PacketBatch) is among the declarations.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const env = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};

describe('npm pack → install → import/require with types', () => {
  it('works from an empty project outside the repo', () => {
    if (!existsSync(join(pkgDir, 'dist', 'index.js')) || !existsSync(join(pkgDir, 'dist', 'index.d.cts'))) {
      execFileSync('npx', ['tsup'], { cwd: pkgDir, env, stdio: 'pipe' });
    }
    const work = mkdtempSync(join(tmpdir(), 'ztun-packet-pack-'));
    try {
      const packed = JSON.parse(
        execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
          cwd: pkgDir,
          env,
          encoding: 'utf8',
        }),
      ) as { files: { path: string }[] }[];
      const paths = packed[0]!.files.map((f) => f.path).sort();
      // Only the manifest, README, LICENSE and built files ship (no sources, tests, benches).
      for (const p of paths)
        expect(p).toMatch(/^(package\.json|README\.md|LICENSE|dist\/index\.(js|cjs|d\.ts|d\.cts)(\.map)?)$/);
      expect(paths).toEqual(
        expect.arrayContaining(['dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.ts', 'dist/index.js']),
      );
      const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
      expect(tgz).toBeDefined();
      const app = join(work, 'app');
      execFileSync('mkdir', ['-p', app]);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
      );
      execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, tgz!)], {
        cwd: app,
        env,
        stdio: 'pipe',
      });

      writeFileSync(
        join(app, 'esm.mjs'),
        "import { internetChecksum, parseCidr } from '@ztun/packet';\n" +
          "console.log(internetChecksum(Uint8Array.of(0,1,0xf2,3,0xf4,0xf5,0xf6,0xf7)).toString(16), parseCidr('10.0.0.0/8').contains('10.1.1.1'));\n",
      );
      writeFileSync(
        join(app, 'cjs.cjs'),
        "const { internetChecksum, formatIPv6, parseIPv6 } = require('@ztun/packet');\n" +
          "console.log(internetChecksum(Uint8Array.of(0,1,0xf2,3,0xf4,0xf5,0xf6,0xf7)).toString(16), formatIPv6(parseIPv6('2001:db8:0:0:0:0:0:1')));\n",
      );
      expect(execFileSync('node', ['esm.mjs'], { cwd: app, encoding: 'utf8' }).trim()).toBe('220d true');
      expect(execFileSync('node', ['cjs.cjs'], { cwd: app, encoding: 'utf8' }).trim()).toBe(
        '220d 2001:db8::1',
      );

      // Types: both resolution modes find declarations with real types.
      writeFileSync(
        join(app, 'check.mts'),
        "import { PacketView, buildUdp, type Decoded, decodePacket, type PacketBatch, type TunDevice } from '@ztun/packet';\n" +
          'const pv = new PacketView();\nconst code: number = pv.reset(new Uint8Array(20));\n' +
          'const d: Decoded<PacketView> = decodePacket(new Uint8Array(1));\n' +
          'const n: number = buildUdp(new Uint8Array(64), 0, { version: 4, source: 1, destination: 2 }, { sourcePort: 1, destinationPort: 2 });\n' +
          // The device contract (types only) ships in the declarations.
          'const b: PacketBatch = { count: 0, data: new Uint8Array(0), offsets: new Uint32Array(0), lengths: new Uint32Array(0) };\n' +
          "const w: Parameters<TunDevice['writeBatch']>[0] = b;\n" +
          'export { code, d, n, w };\n',
      );
      writeFileSync(
        join(app, 'check.cts'),
        "import packet = require('@ztun/packet');\n" +
          'const c: packet.Cidr = packet.parseCidr("fd00::/8");\nconst k: packet.PacketErrorKind = "truncated";\n' +
          'export = { c, k };\n',
      );
      const tsconfig = (files: string[]) =>
        JSON.stringify({
          compilerOptions: {
            noEmit: true,
            strict: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            types: [],
            skipLibCheck: false,
          },
          files,
        });
      writeFileSync(join(app, 'tsconfig.ok.json'), tsconfig(['check.mts', 'check.cts']));
      writeFileSync(join(app, 'tsconfig.wrong.json'), tsconfig(['wrong.mts', 'wrong.cts']));
      const ok = spawnSync('node', [tsc, '-p', 'tsconfig.ok.json'], { cwd: app, encoding: 'utf8' });
      expect(ok.stdout + ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      // A wrong type must be reported — proves the declarations are real, not `any`.
      writeFileSync(
        join(app, 'wrong.mts'),
        "import { internetChecksum } from '@ztun/packet';\nexport const s: string = internetChecksum(new Uint8Array(2));\n",
      );
      writeFileSync(
        join(app, 'wrong.cts'),
        "import packet = require('@ztun/packet');\nexport const s: string = packet.formatIPv4('x');\n",
      );
      const bad = spawnSync('node', [tsc, '-p', 'tsconfig.wrong.json'], { cwd: app, encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toContain(
        "wrong.mts(2,14): error TS2322: Type 'number' is not assignable to type 'string'",
      );
      expect(bad.stdout).toContain(
        "wrong.cts(2,44): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'",
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});
