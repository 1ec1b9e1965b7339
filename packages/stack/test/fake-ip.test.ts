// Fake-IP DNS (issue 15 item 3): the pool (bounded LRU, expiring, stable while in use), local A/AAAA answers,
// and flows to a fake address leaving by name — through socks5Outbound as ATYP=DOMAINNAME.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeIpPool } from '../src/fake-ip-pool.js';
import type { Endpoint, Outbound, UdpSession } from '../src/handler.js';
import { fakeIpOutbound } from '../src/outbound-fake-ip.js';
import { socks5Outbound } from '../src/outbound-socks5.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('FakeIpPool', () => {
  it('gives each name one stable address, skipping the network and DNS addresses, case-insensitively', () => {
    const pool = new FakeIpPool({ ipv4: '198.19.0.0/16', ipv6: 'fd7a:7a74:0:0:ffff::/80' });
    expect(pool.dnsAddress(4)).toBe('198.19.0.1');
    const a = pool.addressFor('Example.test.', 4);
    expect(a).toBe('198.19.0.2');
    expect(pool.addressFor('example.test', 4)).toBe(a);
    expect(pool.addressFor('other.test', 4)).toBe('198.19.0.3');
    expect(pool.addressFor('example.test', 6)).toBe('fd7a:7a74::ffff:0:0:2');
    expect(pool.nameOf('198.19.0.2')).toBe('example.test');
    expect(pool.contains('198.19.200.1')).toBe(true);
    expect(pool.contains('198.18.0.1')).toBe(false);
    expect(new FakeIpPool({ ipv4: '198.19.0.0/16' }).addressFor('x.test', 6)).toBeUndefined();
  });

  it('is bounded: the least recently used name goes first, never one with open flows', () => {
    const pool = new FakeIpPool({ ipv4: '10.0.0.0/29', maxEntries: 3 });
    const a = pool.addressFor('a.test', 4)!;
    const b = pool.addressFor('b.test', 4)!;
    pool.addressFor('c.test', 4);
    pool.acquire(a); // a is in use: stable although it is the oldest
    pool.nameOf(b); // b was used just now
    const d = pool.addressFor('d.test', 4)!;
    expect(pool.nameOf(a)).toBe('a.test');
    expect(pool.nameOf(b)).toBe('b.test');
    expect(pool.size).toBe(3);
    expect(pool.nameOf('10.0.0.4')).toBeUndefined(); // c, the least recently used without flows, went
    expect(d).toBe('10.0.0.5'); // …and d got an address never used before, not c's
    expect(pool.nameOf(a)).toBe('a.test');
  });

  it('forgets names idle past the expiry, but not while a flow holds them', () => {
    let t = 0;
    const pool = new FakeIpPool({ ipv4: '10.0.0.0/24', idleExpiryMs: 1000, now: () => t });
    const a = pool.addressFor('a.test', 4)!;
    const b = pool.addressFor('b.test', 4)!;
    pool.acquire(b);
    t = 5000;
    pool.addressFor('c.test', 4); // allocation sweeps expired entries
    expect(pool.nameOf(a)).toBeUndefined();
    expect(pool.nameOf(b)).toBe('b.test');
    expect(pool.size).toBe(2);
  });
});

function query(name: string, type: 'A' | 'AAAA' | 'MX'): Buffer {
  return dnsPacket.encode({
    id: 99,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
  });
}

function recorder() {
  const tcp: Endpoint[] = [];
  const udp: Endpoint[] = [];
  const outbound: Outbound = {
    name: 'rec',
    async connectTcp(d) {
      tcp.push(d);
      return new PassThrough();
    },
    openUdp: () => ({ send: (_p, d) => udp.push(d), close() {} }),
  };
  return { outbound, tcp, udp };
}

function session() {
  const replies: { payload: Buffer; from: Endpoint }[] = [];
  const unreachable: Endpoint[] = [];
  const s: UdpSession = {
    family: 4,
    source: { address: '198.18.0.1', port: 5353 },
    reply: (p, from) => replies.push({ payload: Buffer.from(p), from }),
    unreachable: (d) => unreachable.push(d),
    drop() {},
    close() {},
  };
  return { s, replies, unreachable };
}

const info = (d: Endpoint) => ({
  family: 4 as const,
  source: { address: '198.18.0.1', port: 1 },
  destination: d,
});

describe('fakeIpOutbound', () => {
  it('answers A locally, then TCP and UDP to that address go out by name; other queries are forwarded', async () => {
    const pool = new FakeIpPool({ ipv4: '198.19.0.0/16' });
    const rec = recorder();
    const out = fakeIpOutbound(rec.outbound, { pool, hijack: true });
    const { s, replies } = session();
    const h = out.openUdp(s);
    const resolver = { address: '10.0.0.53', port: 53 };
    h.send(query('name.test', 'A'), resolver);
    const a = dnsPacket.decode(replies[0]!.payload);
    expect(replies[0]!.from).toEqual(resolver);
    expect(a.answers?.[0]).toMatchObject({ type: 'A', name: 'name.test', data: '198.19.0.2' });
    expect(rec.udp).toEqual([]); // nothing left for the query
    await out.connectTcp({ address: '198.19.0.2', port: 80 }, info({ address: '198.19.0.2', port: 80 }));
    expect(rec.tcp).toEqual([{ address: 'name.test', port: 80 }]);
    h.send(new Uint8Array([1]), { address: '198.19.0.2', port: 443 });
    expect(rec.udp).toEqual([{ address: 'name.test', port: 443 }]);
    h.send(query('name.test', 'MX'), resolver);
    expect(rec.udp.at(-1)).toEqual(resolver);
  });

  it('without --dns-hijack only queries to the pool DNS address are answered; an unknown fake address is refused', async () => {
    const pool = new FakeIpPool({ ipv4: '198.19.0.0/16' });
    const rec = recorder();
    const out = fakeIpOutbound(rec.outbound, { pool, hijack: false });
    const { s, replies, unreachable } = session();
    const h = out.openUdp(s);
    h.send(query('name.test', 'A'), { address: '10.0.0.53', port: 53 });
    expect(replies).toEqual([]);
    expect(rec.udp).toEqual([{ address: '10.0.0.53', port: 53 }]);
    h.send(query('name.test', 'A'), { address: '198.19.0.1', port: 53 });
    expect(replies).toHaveLength(1);
    h.send(new Uint8Array([1]), { address: '198.19.9.9', port: 443 });
    expect(unreachable).toEqual([{ address: '198.19.9.9', port: 443 }]);
    await expect(
      out.connectTcp({ address: '198.19.9.9', port: 80 }, info({ address: '198.19.9.9', port: 80 })),
    ).rejects.toThrow(/no name/);
  });

  it('through socks5Outbound the CONNECT names the host (ATYP=DOMAINNAME)', async () => {
    const requests: Buffer[] = [];
    const server = net.createServer((c) => {
      c.on('error', () => {});
      let greeted = false;
      c.on('data', (d: Buffer) => {
        if (!greeted) {
          greeted = true;
          return void c.write(Buffer.from([5, 0]));
        }
        requests.push(d);
        c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 80]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as net.AddressInfo).port;
    const pool = new FakeIpPool({ ipv4: '198.19.0.0/16' });
    const out = fakeIpOutbound(socks5Outbound({ host: '127.0.0.1', port }), { pool, hijack: true });
    const fake = pool.addressFor('name.test', 4)!;
    const up = await out.connectTcp({ address: fake, port: 80 }, info({ address: fake, port: 80 }));
    up.destroy();
    const r = requests[0]!;
    expect([r[0], r[1], r[3]]).toEqual([5, 1, 3]); // VER, CMD=CONNECT, ATYP=DOMAINNAME
    expect(r.subarray(5, 5 + r[4]!).toString()).toBe('name.test');
    expect(r.readUInt16BE(5 + r[4]!)).toBe(80);
  });
});
