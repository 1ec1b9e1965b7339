// `pnpm --filter @ztun/tun-linux build:prebuilds [--arch x64,arm64]`: builds the Node-API prebuilds that ship in
// the npm tarball, prebuilds/linux-<arch>/@ztun+tun-linux.uv1.glibc.node, with prebuildify (--napi: one
// binary per architecture for every Node in engines; tags uv1 and glibc so node-gyp-build passes them over
// on musl or a future libuv 2 and builds from source instead). Another architecture is cross-compiled with
// Debian's g++-<triple>. Each build runs in a scratch copy of binding.gyp + native/, so build/Release (the
// tests' source build) is never overwritten by a foreign binary. Writes prebuilds/manifest.json, which
// check-prebuilds.mjs (prepack) compares with the sources.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch as hostArch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeHeadersDir } from './node-headers.mjs';
import {
  crossPackage,
  highestSymbolVersion,
  manifestPath,
  packageRoot,
  prebuildProblem,
  prebuildsDir,
  readManifest,
  sha256,
  sourcesHash,
  targets,
} from './prebuilds.mjs';

const { values } = parseArgs({
  options: { arch: { type: 'string', default: Object.keys(targets).join(',') } },
});
const arches = values.arch.split(',').filter(Boolean);
for (const a of arches)
  if (!targets[a]) fail(`unknown --arch ${a} (known: ${Object.keys(targets).join(', ')})`);
if (process.platform !== 'linux') fail('prebuilds are built on Linux');

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (r.error || r.status !== 0) {
    fail(`${command} ${args.join(' ')} failed: ${r.error?.message ?? (r.stderr || `exit ${r.status}`)}`);
  }
  return r.stdout?.trim() ?? '';
}

/** The compilers for `arch`: the host's own, or the Debian cross toolchain (checked before any build). */
function toolchain(arch) {
  const native = arch === hostArch();
  const prefix = native ? '' : `${targets[arch].triple}-`;
  const cxx = `${prefix}g++`;
  const probe = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    fail(
      `${cxx} not found: apt-get install ${native ? 'g++ make python3' : crossPackage(targets[arch].triple)}`,
    );
  }
  const env = native
    ? {}
    : { CC: `${prefix}gcc`, CXX: cxx, LINK: cxx, AR: `${prefix}ar`, STRIP: `${prefix}strip` };
  return { env, strip: `${prefix}strip`, compiler: probe.stdout.split('\n')[0] };
}

const nodedir = nodeHeadersDir();
if (!nodedir) fail(`no Node headers beside ${process.execPath} (<prefix>/include/node/node_api.h)`);
const nodeHeadersVersion = readFileSync(join(nodedir, 'include/node/node_version.h'), 'utf8')
  .match(/#define NODE_(?:MAJOR|MINOR|PATCH)_VERSION (\d+)/g)
  .map((l) => l.split(' ').at(-1))
  .join('.');
const sources = sourcesHash();
const prebuildify = join(packageRoot, 'node_modules/prebuildify/bin.js');
const manifest = readManifest() ?? { binaries: {} };

for (const arch of arches) {
  const tools = toolchain(arch);
  const stage = mkdtempSync(join(tmpdir(), `ztun-prebuild-${arch}-`));
  try {
    for (const entry of ['binding.gyp', 'native', 'package.json']) {
      cpSync(join(packageRoot, entry), join(stage, entry), { recursive: true });
    }
    // binding.gyp finds node-addon-api with require(); node-gyp and prebuildify come from the package's own.
    symlinkSync(join(packageRoot, 'node_modules'), join(stage, 'node_modules'));
    rmSync(join(prebuildsDir, `linux-${arch}`), { recursive: true, force: true });
    console.log(
      `prebuild: linux-${arch} with ${tools.compiler}, Node ${nodeHeadersVersion} headers from ${nodedir}`,
    );
    const args = [prebuildify, '--napi', '--strip', `--strip-bin=${tools.strip}`, `--arch=${arch}`];
    args.push(`--out=${packageRoot}`, '--tag-uv', '--tag-libc');
    // npm_config_nodedir is how prebuildify's node-gyp call gets the headers (it has no flag of its own).
    const env = { ...process.env, ...tools.env, npm_config_nodedir: nodedir };
    run(process.execPath, args, { cwd: stage, env, stdio: 'inherit' });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  const files = readdirSync(join(prebuildsDir, `linux-${arch}`)).filter((f) => f.endsWith('.node'));
  if (files.length !== 1)
    fail(`expected one .node in prebuilds/linux-${arch}, found ${files.join(', ') || 'none'}`);
  const bytes = readFileSync(join(prebuildsDir, `linux-${arch}`, files[0]));
  manifest.binaries[`linux-${arch}`] = {
    file: files[0],
    sha256: sha256(bytes),
    sources,
    machine: targets[arch].machineName,
    compiler: tools.compiler,
    nodeHeaders: nodeHeadersVersion,
    needs: { glibc: highestSymbolVersion(bytes, 'GLIBC'), glibcxx: highestSymbolVersion(bytes, 'GLIBCXX') },
  };
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const problem = prebuildProblem(arch, manifest, sources);
  if (problem) fail(problem);
  console.log(`prebuild: prebuilds/linux-${arch}/${files[0]} (${bytes.length} bytes)`);
}
