import type { SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Netns, type SpawnedInNetns, sh } from './netns.js';

// Processes that need to see different files than the host (e.g. a SOCKS server that checks a test user
// against the system password database) run in a private mount namespace with bind mounts over those files.
// Nothing on the host changes: the mounts exist only in that namespace and vanish with its last process.

export interface BindMount {
  /** The file (or directory) to show… */
  readonly source: string;
  /** …in place of this one, inside the private mount namespace only. */
  readonly target: string;
}

// `sh -c SCRIPT sh SRC DST … -- CMD ARGS…`: every path and argument travels as its own argv entry, so no
// quoting is involved; exec makes CMD take over the shell's PID (the one the caller stops).
const BIND_THEN_EXEC =
  'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"';

/**
 * Starts `cmd` inside network namespace `ns` and a fresh private mount namespace (`unshare -m
 * --propagation private`) in which each of `mounts` is bind-mounted over its target. The returned
 * process is `cmd` itself (exec), so stopping it by PID stops `cmd`.
 */
export function spawnWithBindMounts(
  ns: Netns,
  mounts: readonly BindMount[],
  cmd: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): SpawnedInNetns {
  const pairs = mounts.flatMap((m) => [m.source, m.target]);
  if (pairs.some((p) => p === '--')) throw new TypeError('spawnWithBindMounts: a path may not be "--"');
  return ns.spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', BIND_THEN_EXEC, 'sh', ...pairs, '--', cmd, ...args],
    options,
  );
}

const SALT_CHARS = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** SHA-512 crypt(3) hash of `password` with a random salt (perl's crypt: perl-base is Essential on Debian). */
export function cryptSha512(password: string): string {
  const salt = Array.from(randomBytes(16), (b) => SALT_CHARS[b & 63]).join('');
  const hash = sh('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$6$${salt}$`]);
  if (!hash.startsWith(`$6$${salt}$`)) throw new Error(`crypt(3) has no SHA-512 support here: '${hash}'`);
  return hash;
}

/**
 * Writes copies of /etc/passwd and /etc/shadow into `dir` that add system user `name` with `password`
 * (no shell, no home), and returns the bind mounts that show them in place of the real files. For
 * servers that authenticate against the system password database (danted `socksmethod: username`).
 */
export function systemUserMounts(dir: string, name: string, password: string): BindMount[] {
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(name))
    throw new TypeError(`systemUserMounts: bad user name '${name}'`);
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const shadow = readFileSync('/etc/shadow', 'utf8');
  const users = passwd.split('\n').map((l) => l.split(':'));
  if (users.some((u) => u[0] === name)) throw new Error(`systemUserMounts: user '${name}' already exists`);
  const uids = new Set(users.map((u) => Number(u[2])));
  let uid = 60_000;
  while (uids.has(uid)) uid++;
  const withNewline = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);
  const passwdCopy = join(dir, 'passwd');
  const shadowCopy = join(dir, 'shadow');
  writeFileSync(passwdCopy, `${withNewline(passwd)}${name}:x:${uid}:65534::/nonexistent:/usr/sbin/nologin\n`);
  writeFileSync(shadowCopy, `${withNewline(shadow)}${name}:${cryptSha512(password)}:20000:0:99999:7:::\n`, {
    mode: 0o600,
  });
  return [
    { source: passwdCopy, target: '/etc/passwd' },
    { source: shadowCopy, target: '/etc/shadow' },
  ];
}
