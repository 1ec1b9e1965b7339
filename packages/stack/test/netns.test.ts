// The stack for real: a TUN in a client namespace, servers (HTTP, dnsmasq, danted) in a server namespace,
// traffic from curl/dig/ping in the client namespace going through the stack and the chosen outbound.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  skipWhen,
  waitFor,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { buildUdpPacket, parseIp } from '../src/wire.js';
import {
  type Daemon,
  type HttpServer,
  MARK,
  PROXY4,
  PROXY6,
  routeIntoTun,
  SERVER4,
  SERVER6,
  type StackRunner,
  setUpTopology,
  startDanted,
  startDnsmasq,
  startHttp,
  startStack,
  TUN_CIDRS,
} from './env.js';

const run = promisify(execFile);
const skip =
  netnsSkipReason() ??
  missingCommandsReason(['curl', 'dig', 'ping', 'danted', 'dnsmasq', 'tshark', 'tcpdump', 'ss']);

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

/** A 24 MiB random file to upload (client → server bytes), made once per test file. */
let upload: { path: string; hash: string; size: number } | undefined;
function uploadFile(): { path: string; hash: string; size: number } {
  if (!upload) {
    const dir = mkdtempSync(join(tmpdir(), 'ztun-upload-'));
    const body = randomBytes(24 << 20);
    const path = join(dir, 'upload.bin');
    writeFileSync(path, body);
    upload = { path, hash: createHash('sha256').update(body).digest('hex'), size: body.length };
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return upload;
}

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

    const up = uploadFile();
    const sent = await inNs(
      client,
      `curl -sS --max-time 60 --data-binary @${up.path} -H 'content-type: application/octet-stream' ${url(host, 8080, '/upload')}`,
      90_000,
    );
    expect(sent.code, `${label} upload ${host}: ${sent.err}`).toBe(0);
    expect(sent.out.trim(), `${label} 24 MiB upload via ${host}`).toBe(`${up.hash} ${up.size}`);

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

describe('stack in namespaces', skipWhen(skip), () => {
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
        // With checksum offload: the stack completes partial checksums for the capture, tshark checks them.
        stack = await startStack(client, { kind: 'direct', mark: MARK }, { pcap, offload: true });
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
        // The direct outbound with checksum offload (the socks5 run below keeps the plain device).
        stack = await startStack(client, { kind: 'direct', mark: MARK }, { offload: true });
        routeIntoTun(client, stack.tunName);
        await exerciseEverything(client, http, 'direct');
        const c = await stack.counters();
        expect(c.stack.tcpTotal as number).toBeGreaterThanOrEqual(404);
        // Entries are freed once both sides have closed (after a short linger).
        const runner = stack;
        await waitFor(
          'NAT entries drained',
          async () => {
            const now = await runner.counters();
            return now.stack.tcpNatEntries === 0 && now.stack.tcpOpen === 0;
          },
          15_000,
          250,
        );
        await stack.stop();
        stack = undefined;

        client.ip('route', 'flush', '10.202.0.0/24');
        client.ip('-6', 'route', 'flush', 'fd00:202::/64');
        // The socks5 leg relays TCP with the splice(2) relay through createStack's `relay` option.
        stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1080 }, { splice: true });
        routeIntoTun(client, stack.tunName);
        await exerciseEverything(client, http, 'socks5');
        const { spliced } = await stack.counters();
        expect(spliced.bytesBtoA).toBeGreaterThan(200 * 1024 * 1024); // both 100 MiB downloads
        expect(spliced.bytesAtoB).toBeGreaterThan(2 * 20 * 1024 * 1024); // both 24 MiB uploads
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

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytesSeeded(seed: number, n: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Malformed packets of every kind the stack must drop and count. */
function malformedPackets(): { packets: Uint8Array[]; badChecksums: number; malformed: number } {
  const src4 = parseIp('198.18.0.1')!;
  const dst4 = parseIp(SERVER4)!;
  const src6 = parseIp('fd00:18::1')!;
  const dst6 = parseIp(SERVER6)!;
  const udp4 = buildUdpPacket(src4, 40000, dst4, 53, new Uint8Array(32).fill(7));
  const udp6 = buildUdpPacket(src6, 40000, dst6, 53, new Uint8Array(32).fill(7));
  const malformed: Uint8Array[] = [];
  const bad: Uint8Array[] = [];
  // Truncated headers.
  malformed.push(udp4.slice(0, 10), udp4.slice(0, 24), udp6.slice(0, 30), udp6.slice(0, 44));
  // Lying length fields: IPv4 total length, UDP length, IPv6 payload length, IHL.
  const lie4 = udp4.slice();
  lie4[2] = 0x10; // total length 4096+ > actual
  // keep the header checksum right so the length is what fails
  fixIpv4HeaderChecksum(lie4);
  malformed.push(lie4);
  const lieUdp = udp4.slice();
  lieUdp[24] = 0x7f; // UDP length > IP payload
  malformed.push(lieUdp);
  const lie6 = udp6.slice();
  lie6[4] = 0x7f;
  malformed.push(lie6);
  const lieIhl = udp4.slice();
  lieIhl[0] = 0x4f; // IHL 60 bytes > total length
  fixIpv4HeaderChecksum(lieIhl);
  malformed.push(lieIhl);
  // Bad checksums: IPv4 header, UDP v4, UDP v6, ICMP echo.
  const badIp = udp4.slice();
  badIp[10] ^= 0x55;
  const badUdp4 = udp4.slice();
  badUdp4[40] ^= 1;
  const badUdp6 = udp6.slice();
  badUdp6[60] ^= 1;
  bad.push(badIp, badUdp4, badUdp6);
  // Random bytes (version nibble forced to 4 or 6 half of the time so they reach the header checks).
  const random: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const r = randomBytesSeeded(i + 1, 1 + ((i * 37) % 300));
    if (i % 2 === 0) r[0] = (r[0]! & 0x0f) | (i % 4 === 0 ? 0x40 : 0x60);
    random.push(r);
  }
  return {
    packets: [...malformed, ...bad, ...random],
    badChecksums: bad.length,
    malformed: malformed.length,
  };
}

function fixIpv4HeaderChecksum(p: Uint8Array): void {
  p[10] = 0;
  p[11] = 0;
  const ihl = Math.min((p[0]! & 15) * 4, p.length);
  let s = 0;
  for (let i = 0; i < ihl; i += 2) s += (p[i]! << 8) | p[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

const dropsTotal = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);

// curl(1) EXIT CODES for a connection the peer refused or reset: which one a client sees depends only on
// when the RST lands — before curl saw the connect complete (7, "Failed to connect"), while it sent the
// request (55, "Failed sending network data"), while it waited for the reply (56, "Failure in receiving
// network data"), or as an end of stream before any reply (52, "did not reply anything"). 35 is the same
// for a TLS handshake; these URLs are plain HTTP. A timeout (28) is not a reset.
const CURL_RESET_EXIT_CODES = [7, 52, 55, 56];

/**
 * A curl run with `-w '%{time_total}'` ended by a reset (any of the ways curl reports one) promptly: a reset
 * takes milliseconds; the bound is 3 s, not 1 s, so a busy 2-core machine cannot fail it, and still far
 * below the hang (curl's --max-time) it guards against.
 */
function expectQuickReset(r: { code: number; out: string; err: string }, label: string): void {
  expect(
    CURL_RESET_EXIT_CODES,
    `${label} must end in a reset, got exit ${r.code}: ${r.err.trim()}`,
  ).toContain(r.code);
  expect(Number(r.out), `${label}: reset promptly (${r.out} s)`).toBeLessThan(3);
}

/**
 * Bytes curl's socket to the victim server has received (`ss -ti` in the client namespace). curl's socket is
 * the one from the TUN address; the direct outbound's socket to the same server leaves from the veth.
 */
function slowBytesReceived(client: Netns): number {
  const tunAddress = TUN_CIDRS[0]!.split('/')[0]!;
  const filter = ['src', tunAddress, 'dst', SERVER4, 'dport', '=', ':8081'];
  const r = client.tryExec('ss', ['-Htin', 'state', 'established', ...filter]);
  const m = /bytes_received:(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

describe('stack faults in namespaces', skipWhen(skip), () => {
  it('resets clients quickly when the SOCKS5 server is down, and when a server dies mid-transfer; drops malformed packets', {
    timeout: 120_000,
  }, async () => {
    await withNetnsEnvironment('stf', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const http = await startHttp(server, 8080, 1);
      const victim = await startHttp(server, 8081, 1);
      let stack: StackRunner | undefined;
      try {
        // SOCKS5 server down: nothing listens on 1090.
        stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1090 });
        routeIntoTun(client, stack.tunName);
        for (const host of [SERVER4, SERVER6]) {
          const r = await inNs(
            client,
            `curl -sS --max-time 10 -o /dev/null -w '%{time_total}' ${url(host, 8080, '/small')}`,
          );
          expectQuickReset(r, `curl via dead proxy to ${host}`);
        }
        await stack.stop();
        stack = undefined;
        client.ip('route', 'flush', '10.202.0.0/24');
        client.ip('-6', 'route', 'flush', 'fd00:202::/64');

        stack = await startStack(client, { kind: 'direct', mark: MARK });
        routeIntoTun(client, stack.tunName);
        // Server killed mid-transfer: that transfer fails promptly; the next connection works.
        const slow = inNs(
          client,
          `curl -sS --max-time 20 -o /dev/null -w '%{size_download}' ${url(SERVER4, 8081, '/slow')}`,
          30_000,
        );
        await waitFor('curl received part of /slow', () => slowBytesReceived(client) > 16384, 20_000).catch(
          async (err: Error) => {
            throw new Error(`${err.message}; curl: ${JSON.stringify(await slow)}`);
          },
        );
        victim.proc.child.kill('SIGKILL');
        const killed = await slow;
        expect(killed.code, 'the interrupted transfer fails').not.toBe(0);
        expect(Number(killed.out), 'some bytes arrived before the kill').toBeGreaterThan(0);
        expect(killed.ms, 'and does not hang until --max-time').toBeLessThan(10_000);
        const next = await inNs(client, `curl -sS --max-time 10 ${url(SERVER4, 8080, '/small')} | sha256sum`);
        expect(next.out.split(' ')[0]).toBe(http.smallHash);

        // Malformed packets written into the TUN: dropped and counted, service continues.
        const before = await stack.counters();
        const { packets, badChecksums, malformed } = malformedPackets();
        const sent = await stack.inject(packets);
        expect(sent, 'every packet went out of the TUN towards the stack').toEqual(
          packets.map((p) => p.length),
        );
        const d0 = before.stack.drops;
        const runner = stack;
        const d1 = await waitFor(
          'every injected packet counted as a drop',
          async () => {
            const drops = (await runner.counters()).stack.drops;
            return dropsTotal(drops) - dropsTotal(d0) >= packets.length ? drops : undefined;
          },
          15_000,
          50,
        );
        expect(d1.badChecksum! - d0.badChecksum!).toBeGreaterThanOrEqual(badChecksums);
        expect(d1.malformed! - d0.malformed!).toBeGreaterThanOrEqual(malformed);
        expect(
          dropsTotal(d1) - dropsTotal(d0),
          'every injected packet is dropped and counted',
        ).toBeGreaterThanOrEqual(packets.length);
        for (const host of [SERVER4, SERVER6]) {
          const again = await inNs(client, `curl -sS --max-time 10 ${url(host, 8080, '/small')} | sha256sum`);
          expect(again.out.split(' ')[0], `service continues via ${host}`).toBe(http.smallHash);
        }
        // A UDP destination the outbound cannot reach: the client gets an ICMP unreachable, not a timeout.
        client.ip('route', 'add', 'unreachable', '10.203.0.0/24', 'table', '100');
        client.ip('route', 'add', '10.203.0.0/24', 'dev', stack.tunName);
        const dump = client.spawn('tcpdump', ['-n', '-l', '-i', stack.tunName, '-c', '1', 'icmp']);
        await waitFor('tcpdump listening', () => /listening on/.test(dump.output()));
        // (Linux treats "host unreachable" as a soft error for UDP sockets, so dig itself just times out.)
        await inNs(client, 'dig +time=1 +tries=1 @10.203.0.1 test.ztun A');
        await waitFor(
          'ICMP unreachable on the TUN',
          () => /ICMP host 10\.203\.0\.1 unreachable/.test(dump.output()),
          5000,
        );
        await dump.stop();
        expect(stack.proc.child.exitCode).toBeNull();
      } finally {
        await stack?.stop();
        await http.proc.stop();
        await victim.proc.stop();
      }
    });
  });
});

describe('socks5 username/password against danted', skipWhen(skip), () => {
  it('right credentials carry TCP and UDP (proxy over IPv6); a wrong password resets quickly, is logged without the password, and the stack keeps serving', {
    timeout: 90_000,
  }, async () => {
    await withNetnsEnvironment('sta', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const http = await startHttp(server, 8080, 1);
      const dns = await startDnsmasq(server);
      const username = 'ztunsocks';
      const password = 'pa:ss@w0rd/secret';
      const socks = await startDanted(server, 1080, { username, password });
      let stack: StackRunner | undefined;
      try {
        // danted really demands credentials: a client offering only "no auth" is refused.
        const anon = await inNs(
          client,
          `curl -sS --max-time 5 --socks5 ${PROXY4}:1080 ${url(SERVER4, 8080, '/small')}`,
        );
        expect(anon.code, `no-auth client must be refused: ${anon.out}`).not.toBe(0);
        expect(anon.err).toMatch(/No authentication method was acceptable|rejected|authentication/i);

        // Right credentials, proxy reached over IPv6: TCP to both families and UDP ASSOCIATE (dig).
        stack = await startStack(
          client,
          { kind: 'socks5', host: PROXY6, port: 1080, username, password },
          { debug: true },
        );
        routeIntoTun(client, stack.tunName);
        for (const host of [SERVER4, SERVER6]) {
          const r = await inNs(client, `curl -sS --max-time 10 ${url(host, 8080, '/small')} | sha256sum`);
          expect(r.out.split(' ')[0], `authenticated socks5 via ${host}: ${r.err}`).toBe(http.smallHash);
        }
        const dig4 = await inNs(client, `dig +short +time=2 +tries=2 @${SERVER4} test.ztun A`);
        expect(dig4.out.trim(), `dig v4 through UDP ASSOCIATE: ${dig4.err}`).toBe(SERVER4);
        const dig6 = await inNs(client, `dig +short +time=2 +tries=2 @${SERVER6} test.ztun AAAA`);
        expect(dig6.out.trim(), `dig v6 through UDP ASSOCIATE: ${dig6.err}`).toBe(SERVER6);
        expect(stack.proc.output()).not.toMatch(/connect .*failed|socks5 connect/);
        await stack.stop();
        stack = undefined;
        client.ip('route', 'flush', '10.202.0.0/24');
        client.ip('-6', 'route', 'flush', 'fd00:202::/64');

        // A wrong password: every TCP connection is reset within a second, not left hanging.
        stack = await startStack(
          client,
          { kind: 'socks5', host: PROXY4, port: 1080, username, password: 'wrong-password' },
          { debug: true },
        );
        routeIntoTun(client, stack.tunName);
        for (const host of [SERVER4, SERVER6, SERVER4]) {
          const r = await inNs(
            client,
            `curl -sS --max-time 10 -o /dev/null -w '%{time_total}' ${url(host, 8080, '/small')}`,
          );
          expectQuickReset(r, `curl with a rejected password to ${host}`);
        }
        // Logged the way the stack logs failed connects (debug), naming the destination, never the password.
        const runner = stack;
        await waitFor('auth failures logged', () =>
          /socks5 connect 10\.202\.0\.10:8080: .*auth/i.test(runner.proc.output()),
        );
        expect(runner.proc.output()).toMatch(/socks5 connect \[?fd00:202::10\]?:8080: .*auth/i);
        expect(runner.proc.output()).not.toContain('wrong-password');
        // A UDP association refused for the same reason answers nothing (and breaks nothing).
        const udp = await inNs(client, `dig +short +time=1 +tries=1 @${SERVER4} test.ztun A`);
        expect(udp.out.trim()).not.toBe(SERVER4);
        // The stack keeps serving: still answering pings, and the failed connections left nothing behind.
        const ping = await inNs(client, `ping -c 1 -W 2 ${SERVER4}`);
        expect(ping.code, `ping after the failures: ${ping.out}`).toBe(0);
        const c = await runner.counters();
        expect(c.stack.tcpTotal as number).toBeGreaterThanOrEqual(3);
        await waitFor(
          'no connection left open',
          async () => (await runner.counters()).stack.tcpOpen === 0,
          5000,
          100,
        );
        expect(runner.proc.child.exitCode).toBeNull();
      } finally {
        await stack?.stop();
        await socks.stop();
        await dns.stop();
        await http.proc.stop();
      }
    });
  });
});

describe('direct outbound pinned with SO_BINDTODEVICE', skipWhen(skip), () => {
  it('leaves through the bound device (IPv4 and IPv6)', { timeout: 60_000 }, async () => {
    await withNetnsEnvironment('stb', ['client', 'server'], async (env) => {
      const { client, server, clientIf } = setUpTopology(env);
      // Fallback routes via the veth (worse metric): only a socket bound to the veth uses them.
      client.ip('route', 'add', '10.202.0.0/24', 'via', '10.201.0.2', 'metric', '100');
      client.ip('-6', 'route', 'add', 'fd00:202::/64', 'via', 'fd00:201::2', 'metric', '100');
      const http = await startHttp(server, 8080, 1);
      let stack: StackRunner | undefined;
      try {
        stack = await startStack(client, { kind: 'direct', bindToDevice: clientIf });
        routeIntoTun(client, stack.tunName);
        for (const host of [SERVER4, SERVER6]) {
          const r = await inNs(client, `curl -sS --max-time 10 ${url(host, 8080, '/small')} | sha256sum`);
          expect(r.out.split(' ')[0], `bound to ${clientIf} via ${host}: ${r.err}`).toBe(http.smallHash);
        }
      } finally {
        await stack?.stop();
        await http.proc.stop();
      }
    });
  });
});

export type { Daemon };
