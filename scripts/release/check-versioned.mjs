// First step of `pnpm release`: publish only what `pnpm release:version` (changeset version + lockfile) has
// versioned and committed. Pending changesets, a 0.0.0 package (never versioned: the first release is made
// by `changeset version`) or a stale lockfile would ship the wrong versions; refuse, naming what to run.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8' });
const problems = [];
const pending = readdirSync('.changeset').filter((f) => f.endsWith('.md') && f !== 'README.md');
if (pending.length > 0)
  problems.push(`pending changesets (${pending.join(', ')}): run \`pnpm release:version\``);
for (const p of JSON.parse(run('pnpm', ['ls', '-r', '--depth', '-1', '--json']))) {
  if (!p.private && p.version === '0.0.0')
    problems.push(`${p.name} is still 0.0.0: run \`pnpm release:version\``);
}
try {
  run('pnpm', ['install', '--frozen-lockfile', '--lockfile-only']);
} catch {
  problems.push('pnpm-lock.yaml does not match the package.json ranges: run `pnpm install --lockfile-only`');
}
const dirty = run('git', ['status', '--porcelain']).trim();
if (dirty) problems.push(`uncommitted changes:\n${dirty}\n  commit the versioned packages first`);
if (problems.length > 0) {
  console.error(`release: not ready:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('release: versions are set and committed');
