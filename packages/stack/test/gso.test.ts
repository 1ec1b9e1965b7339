// TSO through the whole stack (issue 17 item 3): at TUN MTU 1500 the kernel hands the stack TCP super-packets
// (gsoSize > 0, up to 64 KiB), the NAT rewrites their one header (partial checksum) and the device writes them
// back whole. Large transfers both ways over IPv4 and IPv6 must arrive intact, the device must have read and
// written super-packets (it did not just fall back to one MTU per packet), and a capture must hold the
// super-packets whole with checksums tshark accepts.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  skipWhen,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  MARK,
  routeIntoTun,
  SERVER4,
  SERVER6,
  type StackRunner,
  setUpTopology,
  startHttp,
  startStack,
} from './env.js';

const run = promisify(execFile);
const skip = netnsSkipReason() ?? missingCommandsReason(['curl', 'tshark']);

async function curl(ns: Netns, args: string): Promise<string> {
  const r = await run('ip', ['netns', 'exec', ns.name, 'sh', '-c', `curl -sS --max-time 60 ${args}`], {
    timeout: 90_000,
    maxBuffer: 1 << 20,
  });
  return r.stdout;
}

const url = (host: string, port: number, path: string) =>
  `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;

describe('TSO super-packets through the stack at TUN MTU 1500', skipWhen(skip), () => {
  it('carries large transfers both ways intact as super-packets, and captures them whole', {
    timeout: 240_000,
  }, async () => {
    await withNetnsEnvironment('gso', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const http = await startHttp(server, 8080, 48);
      const dir = mkdtempSync(join(tmpdir(), 'ztun-gso-'));
      let stack: StackRunner | undefined;
      try {
        const body = randomBytes(16 << 20);
        const upload = join(dir, 'upload.bin');
        writeFileSync(upload, body);
        const uploadHash = createHash('sha256').update(body).digest('hex');

        stack = await startStack(
          client,
          { kind: 'direct', mark: MARK },
          { tunName: 'zggso0', mtu: 1500, offload: true },
        );
        routeIntoTun(client, stack.tunName);
        // The runner's READY line carries the device's offload: TSO must be on (USO is probed separately).
        const ready = JSON.parse(stack.proc.output().split('READY ')[1].split('\n')[0]);
        expect(ready.offload).toMatchObject({ checksum: true, tso: true });
        for (const host of [SERVER4, SERVER6]) {
          const down = await curl(client, `${url(host, 8080, '/big')} | sha256sum`);
          expect(down.split(' ')[0], `48 MiB download via ${host}`).toBe(http.bigHash);
          const up = await curl(
            client,
            `--data-binary @${upload} -H 'content-type: application/octet-stream' ${url(host, 8080, '/upload')}`,
          );
          expect(up.trim(), `16 MiB upload via ${host}`).toBe(`${uploadHash} ${body.length}`);
        }
        const { device } = await stack.counters();
        // Both directions are TCP streams from local sockets over a TSO device: super-packets both ways.
        expect(device.gsoPacketsRead).toBeGreaterThan(100);
        expect(device.gsoPacketsWritten).toBeGreaterThan(100);
        expect(device.txDropped).toBe(0);
        expect(device.rxDropped).toBe(0);
        await stack.stop();
        stack = undefined;

        // A capture: super-packets are recorded whole (longer than the MTU), checksums complete.
        client.ip('route', 'flush', '10.202.0.0/24');
        client.ip('-6', 'route', 'flush', 'fd00:202::/64');
        const pcap = join(dir, 'gso.pcap');
        stack = await startStack(
          client,
          { kind: 'direct', mark: MARK },
          { tunName: 'zggso1', mtu: 1500, offload: true, pcap },
        );
        routeIntoTun(client, stack.tunName);
        await curl(client, `-o /dev/null -r 0-2097151 ${url(SERVER4, 8080, '/big')}`);
        await stack.stop();
        stack = undefined;
        const fields = await run(
          'tshark',
          [
            '-r',
            pcap,
            '-o',
            'tcp.check_checksum:TRUE',
            '-o',
            'ip.check_checksum:TRUE',
            '-T',
            'fields',
            '-e',
            'frame.len',
            '-e',
            '_ws.expert.message',
          ],
          { maxBuffer: 64 << 20 },
        );
        const lines = fields.stdout.trim().split('\n');
        const lengths = lines.map((l) => Number(l.split('\t')[0]));
        expect(Math.max(...lengths)).toBeGreaterThan(1500);
        const bad = lines.filter((l) => /checksum|malformed/i.test(l.split('\t')[1] ?? ''));
        expect(bad, 'tshark checksum/malformed complaints').toEqual([]);
      } finally {
        await stack?.stop();
        http.proc.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
