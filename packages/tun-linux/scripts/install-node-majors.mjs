#!/usr/bin/env node
// Installs the Node binaries test/node-majors.test.ts runs on: node-linux-<arch>@<version> from the npm
// registry (the official binaries, packaged), one per major listed in test/node-majors.json, into
// $ZTUN_NODE_MAJORS_DIR (default ~/.cache/ztun/node-majors). Idempotent: present versions are kept.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const versions = JSON.parse(readFileSync(new URL('../test/node-majors.json', import.meta.url), 'utf8'));
const dir =
  process.env.ZTUN_NODE_MAJORS_DIR ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ztun', 'node-majors');
const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
if (!arch) {
  console.error(`install-node-majors: no node-linux package for ${process.arch}`);
  process.exit(1);
}
for (const [major, version] of Object.entries(versions)) {
  if (!/^\d+$/.test(major)) continue;
  const prefix = join(dir, `node${major}`);
  const bin = join(prefix, 'node_modules', `node-linux-${arch}`, 'bin', 'node');
  const have = existsSync(bin) ? execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() : '';
  if (have === `v${version}`) {
    console.log(`node ${version}: ${bin}`);
    continue;
  }
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-audit',
      '--no-fund',
      '--save-exact',
      `node-linux-${arch}@${version}`,
    ],
    { stdio: 'inherit' },
  );
  console.log(`node ${version}: ${bin}`);
}
