import { missingCommandsReason, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { HTTP_PORT, SERVER, SOCKS, startDantedBlocking, withClTopology } from './cl-topology.js';
import { bin } from './helpers.js';

// Issue 16 item 2 with real traffic: a parent process (python3, fcntl.ioctl TUNSETIFF) opens the TUN,
// configures it with ip(8), and starts `ztun run --fd 3` with the descriptor inherited as fd 3, as a
// supervisor or Android's VpnService would. Traffic flows through the adopted device (the server sees the
// proxy); after ztun stops, the parent's device, its address and its MTU are still there, and ztun's
// routes and rules are gone.

const skip = netnsSkipReason() ?? missingCommandsReason(['danted', 'curl', '/usr/bin/python3']);
const DEV = 'pdparent0';

const PARENT = `
import fcntl, os, signal, struct, subprocess, sys
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454ca, 0x0001, 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH22x', b'${DEV}', IFF_TUN | IFF_NO_PI))
for cmd in (['ip', 'link', 'set', '${DEV}', 'mtu', '1400'], ['ip', 'addr', 'add', '198.18.0.1/15', 'dev', '${DEV}'],
            ['ip', 'link', 'set', '${DEV}', 'up']):
    subprocess.run(cmd, check=True)
os.dup2(fd, 3)
child = subprocess.Popen(sys.argv[1:], pass_fds=(3,), stdout=sys.stdout, stderr=sys.stdout)
print('child', child.pid, flush=True)
print('ztun exited', child.wait(), flush=True)
signal.pause()  # holds the device until the test stops this process
`;

describe('--fd: adopt a TUN a parent opened (namespaces, real traffic)', skipWhen(skip), () => {
  it('traffic flows through the adopted device; it survives ztun, which removes only what it added', async () => {
    await withClTopology(async (client, server) => {
      await startDantedBlocking(server, 1080);
      const rulesBefore = client.ip('rule', 'show');
      const parent = client.spawn('/usr/bin/python3', [
        '-c',
        PARENT,
        process.execPath,
        bin,
        'run',
        '--fd',
        '3',
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '0',
      ]);
      await waitFor(
        'ztun ready on the adopted device',
        () => {
          if (/ztun exited -?\d+\n/.test(parent.output()))
            throw new Error(`ztun exited:\n${parent.output()}`);
          return parent.output().includes('ztun: ready:');
        },
        20_000,
      );
      // The owner's IPv4 address is used as it is; the IPv6 one (--auto-route's default ULA) ztun adds.
      expect(parent.output()).toContain(`ready: ${DEV} 198.18.0.1/15 fd7a:7a74::1/64 mtu 1400`);
      expect(client.ip('addr', 'show', DEV)).toContain('fd7a:7a74::1/64');
      expect(client.ip('-4', 'route', 'show', 'table', '31348')).toContain(`default dev ${DEV}`);
      const r = client.tryExec('curl', ['-sS', '-m', '10', `http://${SERVER}:${HTTP_PORT}/whoami`]);
      expect(r.stdout.trim(), r.stderr).toBe(SOCKS);
      const pid = Number(/child (\d+)/.exec(parent.output())![1]);
      process.kill(pid, 'SIGTERM');
      // The whole line: output can arrive in pieces.
      await waitFor('ztun exited', () => /ztun exited -?\d+\n/.test(parent.output()), 15_000);
      expect(parent.output()).toContain('ztun exited 0\n');
      expect(parent.output()).toMatch(/stopped \(carried [1-9][^)]* up, [1-9][^)]* down\)/);
      // The parent's device is still there, as the parent made it; ztun's rules and routes are gone.
      const link = client.ipJson<{ mtu: number; flags: string[] }[]>('link', 'show', DEV)[0]!;
      expect(link.mtu).toBe(1400);
      expect(link.flags).toContain('UP');
      expect(client.ip('addr', 'show', DEV)).toContain('198.18.0.1/15');
      expect(client.ip('addr', 'show', DEV)).not.toContain('fd7a:7a74::1');
      expect(client.ip('rule', 'show')).toBe(rulesBefore);
      expect(client.ip('-4', 'route', 'show', 'table', 'all')).not.toContain('proto 122');
      await parent.stop();
      expect(client.tryExec('ip', ['link', 'show', DEV]).status).not.toBe(0);
    });
  });

  it('--dry-run names the adopted device; a descriptor that is no TUN is one line, exit 1, nothing changed', async () => {
    await withClTopology(async (client) => {
      const dry = client.tryExec('/usr/bin/python3', [
        '-c',
        PARENT.replace('signal.pause()', ''),
        process.execPath,
        bin,
        'run',
        '--fd',
        '3',
        '--auto-route',
        '--dry-run',
      ]);
      expect(dry.stdout).toContain(
        `# adopt the TUN on fd 3 (${DEV}): its link, MTU and flags stay its owner's`,
      );
      expect(dry.stdout).toContain(`ip -4 route add default dev ${DEV} table 31348`);
      expect(dry.stdout).not.toContain('ip tuntap add');
      const rules = client.ip('rule', 'show');
      const notTun = client.tryExec('sh', [
        '-c',
        `exec 3</etc/hostname; exec "$0" "$@"`,
        process.execPath,
        bin,
        'run',
        '--fd',
        '3',
        '--auto-route',
      ]);
      expect(notTun.status).toBe(1);
      expect(notTun.stderr).toContain(
        'ztun: --fd 3: TUNGETIFF failed: ENOTTY (fd 3 is not a /dev/net/tun descriptor)',
      );
      expect(client.ip('rule', 'show')).toBe(rules);
    });
  });
});
