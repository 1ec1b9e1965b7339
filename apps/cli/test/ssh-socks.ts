import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Netns, type SpawnedInNetns, sh, spawnWithBindMounts, waitFor } from '@ztun/testkit';

// OpenSSH's dynamic forwarding (`ssh -D`) as a real SOCKS5 proxy that only does CONNECT (channels.c answers
// nothing but CONNECT; a UDP ASSOCIATE closes the connection). sshd and ssh both run in `ns`: sshd on
// 127.0.0.1:port, ssh -D listening on host:socksPort, key authentication with keys this test makes. sshd logs
// at DEBUG1, where each forwarded connection shows as `server_request_direct_tcpip: … target HOST port N`:
// the destination exactly as the SOCKS client sent it (a name stays a name).

export interface SshSocks {
  readonly sshd: SpawnedInNetns;
  readonly ssh: SpawnedInNetns;
  /** The `target HOST port N` pairs sshd logged so far, as "HOST:N". */
  targets(): string[];
}

export async function startSshSocks(
  ns: Netns,
  host: string,
  socksPort: number,
  sshdPort = 2222,
  /** Lines of an /etc/hosts sshd sees (in its own mount namespace): names the proxy resolves itself. */
  hosts: readonly string[] = [],
): Promise<SshSocks> {
  const dir = mkdtempSync(join(tmpdir(), 'ztun-dn-ssh-'));
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')));
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${sshdPort}`,
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no', // the key files live in a temporary directory
      'AllowTcpForwarding yes',
      'PidFile none',
      'LogLevel DEBUG1',
      '',
    ].join('\n'),
  );
  // sshd's privilege separation directory (Debian creates it when the service starts, not on install).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const sshdArgs = ['-D', '-e', '-f', join(dir, 'sshd_config')];
  writeFileSync(join(dir, 'hosts'), ['127.0.0.1 localhost', ...hosts, ''].join('\n'));
  const sshd =
    hosts.length > 0
      ? spawnWithBindMounts(
          ns,
          [{ source: join(dir, 'hosts'), target: '/etc/hosts' }],
          '/usr/sbin/sshd',
          sshdArgs,
        )
      : ns.spawn('/usr/sbin/sshd', sshdArgs);
  await waitFor('sshd listening', () => listening(ns, sshdPort), 10_000).catch((err: Error) => {
    throw new Error(`${err.message}\n--- sshd ---\n${sshd.output()}`);
  });
  const ssh = ns.spawn('ssh', [
    '-F',
    '/dev/null',
    '-N',
    '-D',
    `${host}:${socksPort}`,
    '-i',
    join(dir, 'user_key'),
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ExitOnForwardFailure=yes',
    '-p',
    String(sshdPort),
    'root@127.0.0.1',
  ]);
  await waitFor(
    'ssh -D listening',
    () => {
      if (ssh.child.exitCode !== null) throw new Error(`ssh exited ${ssh.child.exitCode}`);
      return listening(ns, socksPort);
    },
    15_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- ssh ---\n${ssh.output()}\n--- sshd ---\n${sshd.output()}`);
  });
  return {
    sshd,
    ssh,
    targets: () =>
      [...sshd.output().matchAll(/server_request_direct_tcpip: .*target (\S+) port (\d+)/g)].map(
        (m) => `${m[1]}:${m[2]}`,
      ),
  };
}

function listening(ns: Netns, port: number): boolean {
  const r = ns.tryExec('ss', ['-Hltn', `sport = :${port}`]);
  return r.status === 0 && r.stdout.trim().length > 0;
}
