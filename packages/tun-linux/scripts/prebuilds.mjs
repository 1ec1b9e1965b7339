// What the prebuilds are and how to tell a good one: shared by prebuild.mjs (writes them), check-prebuilds.mjs
// (prepack: refuses to pack missing or stale ones) and verify-prebuilds.mjs (loads them).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const prebuildsDir = join(packageRoot, 'prebuilds');
export const manifestPath = join(prebuildsDir, 'manifest.json');

/**
 * The architectures shipped (glibc only; see the README for musl). `machine` is the ELF e_machine
 * (linux/elf-em.h: EM_X86_64 62, EM_AARCH64 183); `triple` the Debian cross toolchain prefix, used when the
 * build machine is another architecture (Debian package g++-<triple with _ as ->).
 */
export const targets = {
  x64: { machine: 62, machineName: 'x86-64', triple: 'x86_64-linux-gnu' },
  arm64: { machine: 183, machineName: 'AArch64', triple: 'aarch64-linux-gnu' },
};

/** Debian's package of the cross C++ compiler for a triple (g++-aarch64-linux-gnu, g++-x86-64-linux-gnu). */
export const crossPackage = (triple) => `g++-${triple.replaceAll('_', '-')}`;

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

/** sha256 over everything that decides the binary: binding.gyp, native/**, node-addon-api's version. */
export function sourcesHash() {
  const hash = createHash('sha256');
  const addonApi = JSON.parse(
    readFileSync(join(packageRoot, 'node_modules/node-addon-api/package.json'), 'utf8'),
  );
  hash.update(`node-addon-api@${addonApi.version}\n`);
  for (const file of [join(packageRoot, 'binding.gyp'), ...filesUnder(join(packageRoot, 'native'))]) {
    hash.update(`${file.slice(packageRoot.length + 1)}\n`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * Checks an ELF header (elf(5)): 64-bit, little-endian, a shared object (ET_DYN) for `machine`. Returns
 * the problem, or undefined when it is one.
 */
export function elfProblem(bytes, machine) {
  if (bytes.length < 20 || bytes.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
  if (bytes[4] !== 2 || bytes[5] !== 1) return 'not a 64-bit little-endian ELF file';
  if (bytes.readUInt16LE(16) !== 3) return 'not a shared object (ET_DYN)';
  const found = bytes.readUInt16LE(18);
  return found === machine ? undefined : `ELF machine ${found}, expected ${machine}`;
}

/** The highest symbol version a binary needs of a versioned library (GLIBC_2.x, GLIBCXX_3.4.x). */
export function highestSymbolVersion(bytes, prefix) {
  const versions = [
    ...bytes.toString('latin1').matchAll(new RegExp(`${prefix}_([0-9]+(?:\\.[0-9]+)+)\\0`, 'g')),
  ]
    .map((m) => m[1])
    .sort((a, b) => {
      const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
      for (let i = 0; i < Math.max(x.length, y.length); i++)
        if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
      return 0;
    });
  return versions.at(-1);
}

export function readManifest() {
  return existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : undefined;
}

/** Why the prebuild of `arch` cannot ship (missing, stale against the sources, wrong bytes), or undefined. */
export function prebuildProblem(arch, manifest = readManifest(), sources = sourcesHash()) {
  const entry = manifest?.binaries?.[`linux-${arch}`];
  if (!entry) return `no prebuilds/linux-${arch} recorded in prebuilds/manifest.json`;
  if (entry.sources !== sources)
    return `prebuilds/linux-${arch} was built from other sources (native/ or binding.gyp changed since)`;
  const path = join(prebuildsDir, `linux-${arch}`, entry.file);
  if (!existsSync(path)) return `${path} is missing`;
  const bytes = readFileSync(path);
  if (sha256(bytes) !== entry.sha256) return `${path} differs from the one recorded in the manifest`;
  const elf = elfProblem(bytes, targets[arch].machine);
  return elf ? `${path}: ${elf}` : undefined;
}
