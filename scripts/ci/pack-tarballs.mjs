// node scripts/ci/pack-tarballs.mjs <dir>: packs every publishable workspace package twice, with `pnpm pack`
// and with `npm pack`, and fails unless both tarballs carry the same files and the same manifest fields that
// matter to an installer (dependency ranges above all: no `workspace:` may leak), with the publishing fields
// set. Writes <dir>/installable.txt (pnpm tarballs whose os/cpu admit this machine) and <dir>/foreign.txt.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const [out] = process.argv.slice(2);
if (!out) throw new Error('usage: pack-tarballs.mjs <dir>');
const root = process.cwd();
const problems = [];

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fieldsThatMatter = [
  'name',
  'version',
  'dependencies',
  'peerDependencies',
  'optionalDependencies',
  'bundleDependencies',
  'os',
  'cpu',
  'engines',
  'bin',
  'main',
  'exports',
  'type',
  'repository',
  'homepage',
  'bugs',
  'license',
];

function packWith(tool, dir) {
  const dest = join(out, tool);
  mkdirSync(dest, { recursive: true });
  const before = new Set(readdirSync(dest));
  run(tool, ['pack', '--pack-destination', dest], dir);
  const made = readdirSync(dest).filter((f) => !before.has(f) && f.endsWith('.tgz'));
  if (made.length !== 1) throw new Error(`${tool} pack in ${dir} made ${made.join(', ') || 'no tarball'}`);
  const tarball = join(dest, made[0]);
  const files = run('tar', ['-tzf', tarball]).split('\n').filter(Boolean).sort();
  const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json']));
  return { tarball, files, manifest };
}

const packages = JSON.parse(run('pnpm', ['ls', '-r', '--depth', '-1', '--json'], root)).filter(
  (p) => !p.private,
);
const installable = [];
const foreign = [];
for (const pkg of packages) {
  const dir = relative(root, pkg.path);
  const pnpm = packWith('pnpm', pkg.path);
  const npm = packWith('npm', pkg.path);
  const bad = (what) => problems.push(`${pkg.name}: ${what}`);
  if (pnpm.files.join('\n') !== npm.files.join('\n')) {
    bad(
      `pnpm pack and npm pack ship different files:\n    pnpm: ${pnpm.files.join(' ')}\n    npm:  ${npm.files.join(' ')}`,
    );
  }
  for (const field of fieldsThatMatter) {
    const [a, b] = [JSON.stringify(pnpm.manifest[field]), JSON.stringify(npm.manifest[field])];
    if (a !== b) bad(`${field} differs: pnpm pack ${a}, npm pack ${b}`);
  }
  const text = JSON.stringify(npm.manifest);
  if (/"workspace:/.test(text) || /"workspace:/.test(JSON.stringify(pnpm.manifest)))
    bad('a workspace: range leaks');
  const m = npm.manifest;
  if (!m.repository?.url || m.repository.directory !== dir)
    bad(`repository must name the repo and directory ${dir}`);
  if (!m.homepage) bad('homepage missing');
  if (!m.bugs?.url) bad('bugs.url missing');
  if (!npm.files.includes('package/LICENSE')) bad('LICENSE missing');
  if (m.name === '@ztun/tun-linux') {
    for (const arch of ['x64', 'arm64']) {
      if (!npm.files.some((f) => f.startsWith(`package/prebuilds/linux-${arch}/`) && f.endsWith('.node'))) {
        bad(`no prebuilds/linux-${arch} binary in the tarball`);
      }
    }
  }
  const fits = (list, value) => !list || list.includes(value);
  (fits(m.os, process.platform) && fits(m.cpu, process.arch) ? installable : foreign).push(pnpm.tarball);
  console.log(
    `pack-tarballs: ${m.name}@${m.version} ${npm.files.length} files, os ${m.os ?? 'any'}, cpu ${m.cpu ?? 'any'}`,
  );
}

if (problems.length > 0) {
  console.error(`pack-tarballs: FAIL\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
writeFileSync(join(out, 'installable.txt'), `${installable.join('\n')}\n`);
writeFileSync(join(out, 'foreign.txt'), `${foreign.join('\n')}\n`);
console.log(`pack-tarballs: ${packages.length} packages; pnpm pack and npm pack agree`);
