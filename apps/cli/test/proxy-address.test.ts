import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@ztun/testkit';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { type Nameserver, parseNameserver, queryAddresses } from '../src/dns-query.js';
import { hostsFileAddresses, ProxyAddress, ProxyResolveError } from '../src/proxy-address.js';

// The proxy-address cache against a small DNS server on 127.0.0.1 (dns-packet on both ends): TTL-driven
// background refresh, kept addresses on failure, answers that must be ignored, and clear errors. No
// namespaces; the namespace test (netns-proxy-dns) covers marking and the tunnel.

const RCODES: Record<string, number> = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };
type Answer = { a?: string[]; aaaa?: string[]; ttl?: number; rcode?: string; cname?: string };

interface FakeDns {
  server: Nameserver;
  queries: { name: string; type: string }[];
  set(answer: Answer | 'silent'): void;
  /** Sends a forged answer first (wrong id / wrong question / from another port) for the next query. */
  forgeNext(kind: 'id' | 'question' | 'port'): void;
  close(): void;
}

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function fakeDns(initial: Answer | 'silent'): Promise<FakeDns> {
  const sock = dgram.createSocket('udp4');
  const other = dgram.createSocket('udp4');
  sockets.push(sock, other);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => other.bind(0, '127.0.0.1', r));
  let answer = initial;
  let forge: 'id' | 'question' | 'port' | undefined;
  const queries: { name: string; type: string }[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    queries.push({ name: question.name, type: question.type });
    if (answer === 'silent') return;
    const a = answer;
    const records =
      question.type === 'A' ? (a.a ?? []) : question.type === 'AAAA' ? (a.aaaa ?? []) : ([] as string[]);
    const owner = a.cname ?? question.name;
    const reply = (id: number, name: string) =>
      dnsPacket.encode({
        type: 'response',
        id,
        // RCODE is the header's low four bits (RFC 1035 §4.1.1).
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | RCODES[a.rcode ?? 'NOERROR']!,
        questions: [{ ...question, name }],
        answers: [
          ...(a.cname ? [{ type: 'CNAME' as const, name: question.name, ttl: 600, data: a.cname }] : []),
          ...records.map((data) => ({ type: question.type as 'A', name: owner, ttl: a.ttl ?? 60, data })),
        ],
      });
    const good = reply(q.id!, question.name);
    if (forge) {
      // A well-formed answer claiming another address, sent first: with the wrong id, for another name,
      // or with everything right but from another port.
      const evil = (id: number, name: string) =>
        dnsPacket.encode({
          type: 'response',
          id,
          questions: [{ ...question, name }],
          answers: [{ type: 'A', name, ttl: 60, data: '6.6.6.6' }],
        });
      if (forge === 'id') sock.send(evil((q.id! + 1) & 0xffff, question.name), rinfo.port, rinfo.address);
      else if (forge === 'question') sock.send(evil(q.id!, 'evil.test'), rinfo.port, rinfo.address);
      else other.send(evil(q.id!, question.name), rinfo.port, rinfo.address);
      forge = undefined;
      setTimeout(() => sock.send(good, rinfo.port, rinfo.address), 20);
      return;
    }
    sock.send(good, rinfo.port, rinfo.address);
  });
  return {
    server: { address: '127.0.0.1', port: (sock.address() as { port: number }).port },
    queries,
    set: (x) => {
      answer = x;
    },
    forgeNext: (k) => {
      forge = k;
    },
    close: () => sock.close(),
  };
}

const plainSockets = (family: 4 | 6) => {
  const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  s.bind(0);
  return s;
};

function logger() {
  const lines: string[] = [];
  return {
    lines,
    log: {
      error: (m: string) => lines.push(`error: ${m}`),
      warn: (m: string) => lines.push(`warn: ${m}`),
      info: (m: string) => lines.push(m),
      debug: (m: string) => lines.push(`debug: ${m}`),
    },
  };
}

const noHosts = join(mkdtempSync(join(tmpdir(), 'ztun-hosts-')), 'hosts');
writeFileSync(noHosts, '127.0.0.1 localhost\n');

describe('proxy address cache', () => {
  it('resolves A then AAAA, serves the cached address, re-resolves in the background by TTL', async () => {
    const dns = await fakeDns({ a: ['192.0.2.10'], aaaa: ['2001:db8::10'], ttl: 0 });
    const { log, lines } = logger();
    const p = await ProxyAddress.resolve({
      host: 'Proxy.Test.',
      log,
      sockets: plainSockets,
      nameservers: () => [dns.server],
      hostsFile: noHosts,
      refreshMinMs: 150,
    });
    try {
      expect(p.source).toBe('dns');
      expect(p.addresses).toEqual(['192.0.2.10', '2001:db8::10']);
      expect(p.address()).toBe('192.0.2.10');
      expect(dns.queries).toEqual([
        { name: 'proxy.test', type: 'A' },
        { name: 'proxy.test', type: 'AAAA' },
      ]);
      // Reading the address asks nobody.
      for (let i = 0; i < 100; i++) p.address();
      expect(dns.queries).toHaveLength(2);

      dns.set({ a: ['192.0.2.20'], ttl: 0 });
      await waitFor('the new address', () => p.address() === '192.0.2.20', 5000);
      expect(lines.join('\n')).toMatch(
        /proxy host Proxy\.Test\. now resolves to 192\.0\.2\.20 \(was 192\.0\.2\.10, 2001:db8::10\)/,
      );

      // A resolver that stops answering: the last addresses stay, one warning, then recovery.
      dns.set('silent');
      await waitFor('a warning', () => lines.some((l) => l.startsWith('warn: re-resolving')), 15_000);
      expect(p.address()).toBe('192.0.2.20');
      dns.set({ a: ['192.0.2.30'], ttl: 0 });
      await waitFor('recovered', () => p.address() === '192.0.2.30', 15_000);
      expect(lines.filter((l) => l.startsWith('warn:'))).toHaveLength(1);
      expect(lines).toContain('proxy host Proxy.Test. resolves again');
    } finally {
      p.stop();
    }
    const n = dns.queries.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(dns.queries.length).toBe(n); // stopped means stopped
  }, 40_000);

  it('follows a CNAME and takes the smallest TTL of the chain', async () => {
    const dns = await fakeDns({ a: ['192.0.2.44'], cname: 'real.test', ttl: 30 });
    const r = await queryAddresses(dns.server, 'alias.test', 'A', {
      sockets: plainSockets,
      timeoutMs: 1000,
      tries: 1,
    });
    expect(r).toEqual({ addresses: ['192.0.2.44'], ttlS: 30 });
  });

  it('ignores answers with the wrong id, the wrong question, or from the wrong port', async () => {
    const dns = await fakeDns({ a: ['192.0.2.55'] });
    const opts = { sockets: plainSockets, timeoutMs: 2000, tries: 1 };
    for (const kind of ['id', 'question', 'port'] as const) {
      dns.forgeNext(kind);
      expect((await queryAddresses(dns.server, 'proxy.test', 'A', opts)).addresses).toEqual(['192.0.2.55']);
    }
  });

  it('a name that does not exist, a silent resolver: one clear error each, a progress line after the delay', async () => {
    const nx = await fakeDns({ rcode: 'NXDOMAIN' });
    const { log, lines } = logger();
    const base = { log, sockets: plainSockets, hostsFile: noHosts, systemLookup: async () => [] };
    await expect(
      ProxyAddress.resolve({ ...base, host: 'gone.test', nameservers: () => [nx.server] }),
    ).rejects.toThrow(
      /^proxy host gone\.test did not resolve: 127\.0\.0\.1:\d+: gone\.test does not exist \(NXDOMAIN\)$/,
    );

    const silent = await fakeDns('silent');
    const t0 = Date.now();
    const err = await ProxyAddress.resolve({
      ...base,
      host: 'quiet.test',
      nameservers: () => [silent.server],
      queryTimeoutMs: 300,
      progressAfterMs: 100,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxyResolveError);
    expect((err as Error).message).toMatch(
      /^proxy host quiet\.test did not resolve: no answer from 127\.0\.0\.1:\d+ \(2 tries, 300 ms each\)$/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(lines).toContain('resolving proxy host quiet.test …');

    await expect(
      ProxyAddress.resolve({
        ...base,
        host: 'slow.test',
        nameservers: () => [silent.server],
        queryTimeoutMs: 5000,
        deadlineMs: 200,
      }),
    ).rejects.toThrow('proxy host slow.test did not resolve within 200 ms');
  });

  it('the hosts file wins (static); a name only the system resolver knows is kept for the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztun-hosts-'));
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '# comment\n10.9.8.7  gw.test  alias # trailing\n::1 gw.test\n');
    expect(hostsFileAddresses('GW.test.', hosts)).toEqual(['10.9.8.7', '::1']);
    const nx = await fakeDns({ rcode: 'NXDOMAIN' });
    const { log, lines } = logger();
    const fromHosts = await ProxyAddress.resolve({
      host: 'alias',
      log,
      sockets: plainSockets,
      hostsFile: hosts,
      nameservers: () => [nx.server],
    });
    expect(fromHosts.source).toBe('hosts');
    expect(fromHosts.addresses).toEqual(['10.9.8.7']);
    expect(nx.queries).toHaveLength(0);

    const sys = await ProxyAddress.resolve({
      host: 'mdns-only',
      log,
      sockets: plainSockets,
      hostsFile: noHosts,
      nameservers: () => [nx.server],
      systemLookup: async () => ['10.1.1.1'],
    });
    expect(sys.source).toBe('system');
    expect(sys.address()).toBe('10.1.1.1');
    expect(lines.join('\n')).toMatch(
      /resolved by the system resolver only \(10\.1\.1\.1\): kept for the whole run/,
    );
    const literal = await ProxyAddress.resolve({ host: '2001:db8::1', log, sockets: plainSockets });
    expect(literal.source).toBe('literal');
  });

  it('parses nameserver notations', () => {
    expect(parseNameserver('10.0.0.53')).toEqual({ address: '10.0.0.53', port: 53 });
    expect(parseNameserver('10.0.0.53:5353')).toEqual({ address: '10.0.0.53', port: 5353 });
    expect(parseNameserver('::1')).toEqual({ address: '::1', port: 53 });
    expect(parseNameserver('[fd00::53]:5353')).toEqual({ address: 'fd00::53', port: 5353 });
  });
});
