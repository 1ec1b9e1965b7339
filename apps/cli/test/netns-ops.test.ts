import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingCommandsReason, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { HTTP_PORT, SERVER, SOCKS, startDantedBlocking, withClTopology } from './cl-topology.js';
import { bin } from './helpers.js';
import { DEBIAN_PYTHON } from './prom-parse.js';

// Issue 16 item 4 as a supervisor sees it: systemd's NOTIFY_SOCKET (a python3 AF_UNIX datagram listener
// stands in for systemd), --up/--down hooks with their environment and exit status, --pid-file,
// --log-file; real traffic through the tunnel in between.

const skip = netnsSkipReason() ?? missingCommandsReason(['danted', 'curl', DEBIAN_PYTHON]);

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    print('got', repr(s.recv(4096).decode()), flush=True)
`;

describe('--up/--down, --pid-file, --log-file, sd_notify (namespaces, real traffic)', skipWhen(skip), () => {
  it('notifies READY=1 and STOPPING=1, runs the hooks with ZTUN_IFNAME/ZTUN_ADDRESSES, keeps the files right', async () => {
    await withClTopology(async (client, server) => {
      await startDantedBlocking(server, 1080);
      const dir = mkdtempSync(join(tmpdir(), 'ztun-pd-ops-'));
      const sock = join(dir, 'notify.sock');
      const listener = client.spawn(DEBIAN_PYTHON, ['-c', LISTENER, sock]);
      await waitFor('notify listener', () => listener.output().includes('listening'));
      const z = client.spawn(
        process.execPath,
        [
          bin,
          'run',
          '--auto-route',
          '--proxy',
          `socks5://${SOCKS}:1080`,
          '--stats-interval',
          '0',
          '--up',
          `echo "$ZTUN_IFNAME $ZTUN_ADDRESSES" > ${dir}/up.txt`,
          '--down',
          `echo "down $ZTUN_IFNAME" > ${dir}/down.txt; exit 3`,
          '--pid-file',
          join(dir, 'ztun.pid'),
          '--log-file',
          join(dir, 'ztun.log'),
        ],
        { env: { ...process.env, NOTIFY_SOCKET: sock } },
      );
      await waitFor('READY=1', () => listener.output().includes('READY=1'), 20_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${z.output()}`);
      });
      expect(listener.output()).toContain(`MAINPID=${z.child.pid}`);
      expect(readFileSync(join(dir, 'ztun.pid'), 'utf8')).toBe(`${z.child.pid}\n`);
      await waitFor('up hook done', () => z.output().includes('up hook exited 0'));
      expect(readFileSync(join(dir, 'up.txt'), 'utf8')).toBe('ztun0 198.18.0.1/15 fd7a:7a74::1/64\n');
      const r = client.tryExec('curl', ['-sS', '-m', '10', `http://${SERVER}:${HTTP_PORT}/whoami`]);
      expect(r.stdout.trim(), r.stderr).toBe(SOCKS);

      expect(await z.stop()).toBe(0);
      expect(listener.output()).toContain("got 'STOPPING=1'");
      expect(readFileSync(join(dir, 'down.txt'), 'utf8')).toBe('down ztun0\n');
      expect(z.output()).toContain('ztun: warn: down hook exited 3');
      expect(existsSync(join(dir, 'ztun.pid'))).toBe(false);
      const logged = readFileSync(join(dir, 'ztun.log'), 'utf8').trim().split('\n');
      for (const line of logged) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ztun: /);
      expect(logged.some((l) => l.includes('ztun: ready: ztun0'))).toBe(true);
      expect(logged.some((l) => l.includes('up hook exited 0'))).toBe(true);
      expect(logged.some((l) => l.includes('down hook exited 3'))).toBe(true);
    });
  });

  it('a hook past --hook-timeout is killed and logged; the run goes on and stops cleanly', async () => {
    await withClTopology(async (client) => {
      const z = client.spawn(process.execPath, [
        bin,
        'run',
        '--auto-route',
        '--stats-interval',
        '0',
        '--up',
        'exec sleep 600',
        '--hook-timeout',
        '300ms',
      ]);
      await waitFor('the up hook killed', () => z.output().includes('up hook timed out after 0.3 s'), 20_000);
      expect(z.output()).toMatch(/ready: ztun0/);
      expect(await z.stop()).toBe(0);
    });
  });
});
