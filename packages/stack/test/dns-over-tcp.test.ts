// DNS over TCP for UDP clients (issue 15 item 2) against a DNS-over-TCP server written here with dns-packet:
// framing, one reused connection with pipelined queries and IDs remapped across clients, retry after the
// server closes, timeouts, TC for answers too large for the client, SERVFAIL when the resolver is unreachable.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { waitFor } from '@ztun/testkit';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsTcpClient } from '../src/dns-tcp.js';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from '../src/handler.js';
import { dnsOverTcpOutbound } from '../src/outbound-dns-tcp.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface ServerOptions {
  /** Hold the first answers until this many queries arrived on a connection, then answer them in reverse order. */
  batch?: number;
  /** Never answer. */
  silent?: boolean;
  /** Close each connection after this many answers. */
  closeAfter?: number;
  /** A records per answer (to make a large one). */
  records?: number;
}

/** A DNS-over-TCP server on loopback: every A question gets `records` answers 192.0.2.x. */
async function tcpDnsServer(o: ServerOptions = {}) {
  const seen: { conn: number; id: number; name: string }[] = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const conn = ++connections;
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => {});
    let buf = Buffer.alloc(0);
    let held: Buffer[] = [];
    let answered = 0;
    const answer = (q: ReturnType<typeof dnsPacket.decode>) => {
      const n = o.records ?? 1;
      const msg = dnsPacket.encode({
        id: q.id,
        type: 'response',
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions,
        answers: Array.from({ length: n }, (_, i) => ({
          type: 'A' as const,
          name: q.questions![0]!.name,
          ttl: 60,
          data: `192.0.2.${(i % 250) + 1}`,
        })),
      });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
      if (++answered === o.closeAfter) c.end();
    };
    c.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const q = dnsPacket.decode(msg);
        seen.push({ conn, id: q.id!, name: q.questions![0]!.name });
        if (o.silent) continue;
        held.push(Buffer.from(msg));
        if (held.length >= (answered === 0 ? (o.batch ?? 1) : 1)) {
          for (const m of held.reverse()) answer(dnsPacket.decode(m));
          held = [];
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const port = (server.address() as net.AddressInfo).port;
  return { port, seen, connections: () => connections, openSockets: () => sockets.size };
}

const connectLoopback = (port: number) => (): Promise<Duplex> =>
  new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });

function query(id: number, name: string, udpPayloadSize?: number): Buffer {
  return dnsPacket.encode({
    id,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name }],
    ...(udpPayloadSize ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize }] } : {}),
  } as dnsPacket.Packet);
}

describe('DnsTcpClient (RFC 7766)', () => {
  it('pipelines queries on one reused connection and gives each client its own ID back', async () => {
    const srv = await tcpDnsServer({ batch: 3 });
    const client = new DnsTcpClient({ connect: connectLoopback(srv.port) });
    closers.push(() => client.close());
    const resolver = { address: '10.0.0.53', port: 53 };
    // Two clients chose the same ID: on the shared connection they must not collide.
    const answers = await Promise.all([
      client.query(resolver, query(7, 'a.test')),
      client.query(resolver, query(7, 'b.test')),
      client.query(resolver, query(9, 'c.test')),
    ]);
    const decoded = answers.map((a) => dnsPacket.decode(Buffer.from(a)));
    expect(decoded.map((d) => [d.id, d.questions![0]!.name])).toEqual([
      [7, 'a.test'],
      [7, 'b.test'],
      [9, 'c.test'],
    ]);
    // All three were in flight at once (the server answered only after the third) on one connection,
    // with three distinct IDs on the wire.
    expect(srv.connections()).toBe(1);
    expect(new Set(srv.seen.map((s) => s.id)).size).toBe(3);
    // Reuse: a later query takes the same connection.
    await client.query(resolver, query(1, 'd.test'));
    expect(srv.connections()).toBe(1);
    expect(client.counters).toMatchObject({ connections: 1, queries: 4, answers: 4, timeouts: 0 });
  });

  it('closes an idle connection, and opens a new one after the server closed its side', async () => {
    const srv = await tcpDnsServer({ closeAfter: 1 });
    const client = new DnsTcpClient({ connect: connectLoopback(srv.port), idleTimeoutMs: 50 });
    closers.push(() => client.close());
    const resolver = { address: '10.0.0.53', port: 53 };
    await client.query(resolver, query(1, 'a.test'));
    await waitFor('the closed connection forgotten', () => client.connectionCount === 0, 5000);
    await client.query(resolver, query(2, 'b.test'));
    expect(srv.connections()).toBe(2);
    await waitFor('idle connection closed', () => srv.openSockets() === 0, 5000);
  });

  it('resends queries in flight once when the server closes before answering them', async () => {
    // The server answers one query per connection: the second of two pipelined queries is lost with the
    // connection and must be asked again on a new one.
    const srv = await tcpDnsServer({ closeAfter: 1 });
    const client = new DnsTcpClient({ connect: connectLoopback(srv.port) });
    closers.push(() => client.close());
    const resolver = { address: '10.0.0.53', port: 53 };
    const [a, b] = await Promise.all([
      client.query(resolver, query(1, 'a.test')),
      client.query(resolver, query(2, 'b.test')),
    ]);
    expect(dnsPacket.decode(Buffer.from(a)).questions![0]!.name).toBe('a.test');
    expect(dnsPacket.decode(Buffer.from(b)).questions![0]!.name).toBe('b.test');
    expect(srv.connections()).toBe(2);
  });

  it('a query without an answer fails with a timeout; a refused connect fails at once', async () => {
    const srv = await tcpDnsServer({ silent: true });
    const client = new DnsTcpClient({ connect: connectLoopback(srv.port), queryTimeoutMs: 100 });
    closers.push(() => client.close());
    await expect(client.query({ address: '10.0.0.53', port: 53 }, query(1, 'a.test'))).rejects.toMatchObject({
      kind: 'timeout',
    });
    const refused = new DnsTcpClient({ connect: () => Promise.reject(new Error('connection refused')) });
    await expect(refused.query({ address: '10.0.0.53', port: 53 }, query(1, 'a.test'))).rejects.toMatchObject(
      {
        kind: 'connect',
      },
    );
    expect(refused.counters.failures).toBe(1);
  });
});

/** A UDP session that records what the stack would send to the client. */
function fakeSession() {
  const replies: { payload: Buffer; from: Endpoint }[] = [];
  const session: UdpSession = {
    family: 4,
    source: { address: '198.18.0.1', port: 40000 },
    reply: (payload, from) => replies.push({ payload: Buffer.from(payload), from }),
    unreachable: () => {},
    drop: () => {},
    close: () => {},
  };
  return { session, replies };
}

/** An outbound whose TCP goes to the loopback DNS server, and which records UDP it was asked to carry. */
function loopbackOutbound(port: number, connected: Endpoint[] = []) {
  const udpSent: Endpoint[] = [];
  let udpOpened = 0;
  const outbound: Outbound = {
    name: 'test',
    connectTcp: (destination) => {
      connected.push(destination);
      return connectLoopback(port)();
    },
    openUdp(): UdpSessionHandler {
      udpOpened++;
      return { send: (_p, d) => udpSent.push(d), close: () => {} };
    },
  };
  return { outbound, udpSent, udpOpened: () => udpOpened };
}

describe('dnsOverTcpOutbound', () => {
  it('answers a UDP query from the resolver it was sent to, over TCP to that resolver, opening no UDP relay', async () => {
    const srv = await tcpDnsServer();
    const connected: Endpoint[] = [];
    const inner = loopbackOutbound(srv.port, connected);
    const out = dnsOverTcpOutbound(inner.outbound);
    closers.push(() => out.close?.());
    const { session, replies } = fakeSession();
    const h = out.openUdp(session);
    const resolver = { address: '10.0.0.53', port: 53 };
    h.send(query(4242, 'name.test'), resolver);
    await waitFor('answer', () => replies.length === 1, 5000);
    expect(replies[0]!.from).toEqual(resolver);
    const a = dnsPacket.decode(replies[0]!.payload);
    expect(a.id).toBe(4242);
    expect(a.answers?.[0]).toMatchObject({ type: 'A', data: '192.0.2.1' });
    expect(connected).toEqual([resolver]);
    expect(inner.udpOpened()).toBe(0);
    // Other UDP still goes to the outbound's own UDP relay.
    h.send(Buffer.from('hello'), { address: '10.0.0.9', port: 5000 });
    expect(inner.udpSent).toEqual([{ address: '10.0.0.9', port: 5000 }]);
  });

  it('an answer larger than the client takes over UDP comes back truncated (TC); one that fits, whole', async () => {
    const srv = await tcpDnsServer({ records: 60 }); // 60 A records ≈ 1 KB
    const out = dnsOverTcpOutbound(loopbackOutbound(srv.port).outbound);
    closers.push(() => out.close?.());
    const { session, replies } = fakeSession();
    const h = out.openUdp(session);
    const resolver = { address: '10.0.0.53', port: 53 };
    h.send(query(1, 'big.test'), resolver); // no EDNS: 512 bytes at most
    h.send(query(2, 'big.test', 4096), resolver); // EDNS: room for it all
    await waitFor('two answers', () => replies.length === 2, 5000);
    const byId = new Map(replies.map((r) => [dnsPacket.decode(r.payload).id, r.payload]));
    const small = dnsPacket.decode(byId.get(1)!);
    expect(byId.get(1)!.length).toBeLessThanOrEqual(512);
    expect(small.flag_tc).toBe(true);
    expect(small.answers).toEqual([]);
    expect(small.questions![0]!.name).toBe('big.test');
    const whole = dnsPacket.decode(byId.get(2)!);
    expect(whole.flag_tc).toBe(false);
    expect(whole.answers).toHaveLength(60);
    expect(out.dnsCounters.truncated).toBe(1);
  });

  it('a resolver the outbound cannot reach gets the client a SERVFAIL at once', async () => {
    const inner: Outbound = {
      name: 'test',
      connectTcp: () => Promise.reject(new Error('proxy refused the connection')),
      openUdp: () => ({ send() {}, close() {} }),
    };
    const out = dnsOverTcpOutbound(inner);
    closers.push(() => out.close?.());
    const { session, replies } = fakeSession();
    out.openUdp(session).send(query(77, 'x.test'), { address: '10.0.0.53', port: 53 });
    await waitFor('answer', () => replies.length === 1, 5000);
    const a = dnsPacket.decode(replies[0]!.payload);
    expect(a.id).toBe(77);
    expect((a as { rcode?: string }).rcode).toBe('SERVFAIL');
  });

  it('with useTcp false the query goes to the outbound UDP relay unchanged', async () => {
    const srv = await tcpDnsServer();
    const inner = loopbackOutbound(srv.port);
    const out = dnsOverTcpOutbound(inner.outbound, { useTcp: () => false });
    closers.push(() => out.close?.());
    const { session } = fakeSession();
    out.openUdp(session).send(query(1, 'a.test'), { address: '10.0.0.53', port: 53 });
    expect(inner.udpSent).toEqual([{ address: '10.0.0.53', port: 53 }]);
    expect(srv.connections()).toBe(0);
  });
});
