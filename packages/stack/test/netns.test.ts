// The stack for real: a TUN in a client namespace, servers (HTTP, dnsmasq, danted) in a server namespace,
// traffic from curl/dig/ping in the client namespace going through the stack and the chosen outbound.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commandExists, type Netns, netnsSkipReason, withNetnsEnvironment } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  type Daemon,
  type HttpServer,
  MARK,
  PROXY4,
  routeIntoTun,
  SERVER4,
  SERVER6,
  type StackRunner,
  setUpTopology,
  startDanted,
  startDnsmasq,
  startHttp,
  startStack,
} from './env.js';

const run = promisify(execFile);
const skip =
  netnsSkipReason() ??
  (['curl', 'dig', 'ping', 'danted', 'dnsmasq', 'tshark'].find((c) => !commandExists(c))
    ? 'needs curl, dig, ping, danted, dnsmasq, tshark'
    : undefined);
if (skip) console.warn(`[skip] stack namespace tests: ${skip}`);

async function inNs(
  ns: Netns,
  cmd: string,
  timeoutMs = 60_000,
): Promise<{ code: number; out: string; err: string; ms: number }> {
  const t0 = performance.now();
  try {
    const r = await run('ip', ['netns', 'exec', ns.name, 'sh', '-c', cmd], {
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
    return { code: 0, out: r.stdout, err: r.stderr, ms: performance.now() - t0 };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      out: err.stdout ?? '',
      err: err.stderr ?? '',
      ms: performance.now() - t0,
    };
  }
}

const url = (host: string, port: number, path: string) =>
  `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;

async function exerciseEverything(client: Netns, http: HttpServer, label: string): Promise<void> {
  const p4 = await inNs(client, `ping -c 2 -i 0.2 -W 2 ${SERVER4}`);
  expect(p4.code, `${label} ping v4: ${p4.out}${p4.err}`).toBe(0);
  const p6 = await inNs(client, `ping -6 -c 2 -i 0.2 -W 2 ${SERVER6}`);
  expect(p6.code, `${label} ping v6: ${p6.out}${p6.err}`).toBe(0);
  for (const host of [SERVER4, SERVER6]) {
    const small = await inNs(client, `curl -sS --max-time 10 ${url(host, 8080, '/small')} | sha256sum`);
    expect(small.code, `${label} small ${host}: ${small.err}`).toBe(0);
    expect(small.out.split(' ')[0], `${label} small body via ${host}`).toBe(http.smallHash);

    const big = await inNs(client, `curl -sS --max-time 60 ${url(host, 8080, '/big')} | sha256sum`, 90_000);
    expect(big.code, `${label} big ${host}: ${big.err}`).toBe(0);
    expect(big.out.split(' ')[0], `${label} 100 MB body via ${host}`).toBe(http.bigHash);

    const many = Array.from({ length: 200 }, (_, i) => `-o /dev/null ${url(host, 8080, `/small?${i}`)}`).join(
      ' ',
    );
    const par = await inNs(
      client,
      `curl -sS -Z --parallel-immediate --parallel-max 200 --max-time 30 -w '%{http_code}\\n' ${many}`,
    );
    const codes = par.out.trim().split('\n');
    expect(
      codes.filter((c) => c === '200').length,
      `${label} 200 parallel via ${host}: ${par.err.slice(0, 300)}`,
    ).toBe(200);
  }
  const dig4 = await inNs(client, `dig +short +time=2 +tries=2 @${SERVER4} test.ztun A`);
  expect(dig4.out.trim(), `${label} dig v4: ${dig4.err}`).toBe(SERVER4);
  const dig6 = await inNs(client, `dig +short +time=2 +tries=2 @${SERVER6} test.ztun AAAA`);
  expect(dig6.out.trim(), `${label} dig v6: ${dig6.err}`).toBe(SERVER6);
}

describe.skipIf(skip !== undefined)('stack in namespaces', () => {
  it('direct and socks5 outbounds carry TCP, UDP and ICMP over IPv4 and IPv6', {
    timeout: 300_000,
  }, async () => {
    await withNetnsEnvironment('stk', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const http = await startHttp(server, 8080);
      const dns = await startDnsmasq(server);
      const socks = await startDanted(server);
      const dir = mkdtempSync(join(tmpdir(), 'ztun-pcap-'));
      let stack: StackRunner | undefined;
      try {
        const pcap = join(dir, 'cap.pcap');
        stack = await startStack(client, { kind: 'direct', mark: MARK }, { pcap });
        routeIntoTun(client, stack.tunName);

        const p4 = await inNs(client, `ping -c 2 -i 0.2 -W 2 ${SERVER4}`);
        expect(p4.code, `ping v4: ${p4.out}${p4.err}`).toBe(0);
        const p6 = await inNs(client, `ping -6 -c 2 -i 0.2 -W 2 ${SERVER6}`);
        expect(p6.code, `ping v6: ${p6.out}${p6.err}`).toBe(0);
        // A small capture for tshark: the pings plus one request each way.
        await inNs(client, `curl -sS --max-time 10 -o /dev/null ${url(SERVER4, 8080, '/small')}`);
        await inNs(client, `curl -sS --max-time 10 -o /dev/null ${url(SERVER6, 8080, '/small')}`);
        await inNs(client, `dig +short +time=2 @${SERVER4} test.ztun A`);
        await stack.stop();
        stack = undefined;
        expect(existsSync(pcap)).toBe(true);
        const fields = await run('tshark', [
          '-r',
          pcap,
          '-o',
          'tcp.check_checksum:TRUE',
          '-o',
          'udp.check_checksum:TRUE',
          '-o',
          'ip.check_checksum:TRUE',
          '-T',
          'fields',
          '-e',
          'frame.number',
          '-e',
          '_ws.expert.message',
          '-e',
          'frame.protocols',
        ]);
        const lines = fields.stdout.trim().split('\n');
        expect(lines.length).toBeGreaterThan(20);
        const bad = lines.filter((l) => /checksum|malformed/i.test(l.split('\t')[1] ?? ''));
        expect(bad, 'tshark checksum/malformed complaints').toEqual([]);
        expect(fields.stdout).toMatch(/ip:tcp/);
        expect(fields.stdout).toMatch(/ipv6:tcp/);
        expect(fields.stdout).toMatch(/ip:udp:dns/);
        expect(fields.stdout).toMatch(/ip:icmp/);
        expect(fields.stdout).toMatch(/ipv6:icmpv6/);

        // The direct outbound, full run (the tunnel routes stay; a new stack takes the same TUN name? no: new TUN).
        client.ip('route', 'flush', '10.202.0.0/24');
        client.ip('-6', 'route', 'flush', 'fd00:202::/64');
        stack = await startStack(client, { kind: 'direct', mark: MARK });
        routeIntoTun(client, stack.tunName);
        await exerciseEverything(client, http, 'direct');
        const c = await stack.counters();
        expect(c.stack.tcpTotal as number).toBeGreaterThanOrEqual(404);
        await stack.stop();
        stack = undefined;

        client.ip('route', 'flush', '10.202.0.0/24');
        client.ip('-6', 'route', 'flush', 'fd00:202::/64');
        stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1080 });
        routeIntoTun(client, stack.tunName);
        await exerciseEverything(client, http, 'socks5');
      } finally {
        await stack?.stop();
        await socks.stop();
        await dns.stop();
        await http.proc.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

export type { Daemon };
