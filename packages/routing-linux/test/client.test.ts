import { describe, expect, it } from 'vitest';
import {
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_GETROUTE,
  RTM_GETRULE,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from '../src/codec/constants.js';
import {
  HOST_LITTLE_ENDIAN,
  MessageBuilder,
  type NetlinkMessage,
  parseMessages,
} from '../src/codec/netlink.js';
import { buildRoute, resolveRoute } from '../src/codec/route.js';
import { buildRule, resolveRule } from '../src/codec/rule.js';
import { NetlinkError, RoutingInputError } from '../src/errors.js';
import { RtNetlink } from '../src/rtnetlink.js';
import { ZTUN_RT_PROTOCOL } from '../src/tags.js';
import { type NetlinkTransport, SyscallError } from '../src/transport.js';

const PORT = 4242;

/** A transport that answers each request through `respond` (datagrams) and records what was sent. */
class FakeTransport implements NetlinkTransport {
  readonly portId = PORT;
  readonly sent: NetlinkMessage[] = [];
  private readonly inbox: Uint8Array[] = [];
  closed = 0;
  constructor(private readonly respond: (req: NetlinkMessage, n: number) => Uint8Array[]) {}
  send(message: Uint8Array): void {
    const [m] = parseMessages(message);
    this.sent.push(m!);
    this.inbox.push(...this.respond(m!, this.sent.length));
  }
  receive(): Uint8Array | undefined {
    return this.inbox.shift();
  }
  close(): void {
    this.closed++;
  }
}

function ack(seq: number, errno = 0, pid = PORT): Uint8Array {
  const e = new Uint8Array(4);
  new DataView(e.buffer).setInt32(0, -errno, HOST_LITTLE_ENDIAN);
  return new MessageBuilder(NLMSG_ERROR, 0)
    .struct(e)
    .struct(new MessageBuilder(0, 0).finish(seq, pid))
    .finish(seq, pid);
}

function done(seq: number, flags = NLM_F_MULTI): Uint8Array {
  return new MessageBuilder(NLMSG_DONE, flags).struct(new Uint8Array(4)).finish(seq, PORT);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A dumped route as the kernel would send it (our encoder, type NEWROUTE, multi-part). */
function dumpedRoute(seq: number, dst: string, protocol: number, flags = NLM_F_MULTI): Uint8Array {
  const b = buildRoute('add', resolveRoute('t', 'add', { dst, oif: 3, protocol, table: 1000 }));
  const [m] = parseMessages(b.finish(0));
  return new MessageBuilder(RTM_NEWROUTE, flags).struct(m!.payload).finish(seq, PORT);
}

function dumpedRule(seq: number, priority: number): Uint8Array {
  const [m] = parseMessages(
    buildRule('add', resolveRule('t', 'add', { family: 4, priority, table: 7 })).finish(0),
  );
  return new MessageBuilder(RTM_NEWRULE, NLM_F_MULTI).struct(m!.payload).finish(seq, PORT);
}

describe('RtNetlink request machinery (fake transport)', () => {
  it('an ack completes a request; NLMSG_ERROR becomes a NetlinkError naming operation and errno', () => {
    const t = new FakeTransport((req, n) => [ack(req.seq, n === 1 ? 0 : 17)]);
    const nl = RtNetlink.open({ transport: t });
    nl.addRoute({ dst: '10.0.0.0/8', oif: 3 });
    let err: unknown;
    try {
      nl.addRoute({ dst: '10.0.0.0/8', oif: 3, table: 100 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({
      code: 'EEXIST',
      errno: 17,
      operation: 'route add 10.0.0.0/8 dev #3 table 100',
    });
    expect((err as Error).message).toContain('route add 10.0.0.0/8');
    expect((err as Error).message).toContain('EEXIST');
    expect(t.sent[0]!.pid).toBe(PORT);
    expect(t.sent[1]!.seq).toBe((t.sent[0]!.seq + 1) >>> 0);
  });

  it('the deadline ends a request nobody answers', () => {
    const t = new FakeTransport(() => []);
    const nl = RtNetlink.open({ transport: t, timeoutMs: 30 });
    expect(() => nl.deleteRoute({ dst: 'fd00::/8' })).toThrowError(
      expect.objectContaining({
        name: 'NetlinkError',
        code: 'ETIMEDOUT',
        operation: 'route delete fd00::/8',
      }),
    );
  });

  it('the deadline also ends a request drowned in replies that are not ours', () => {
    // Endless stale replies (another sequence number, another port id): never matched, never accepted.
    const t = new (class extends FakeTransport {
      override receive(): Uint8Array {
        const seq = this.sent.at(-1)!.seq;
        return concat(ack(seq - 1), ack(seq, 0, PORT + 1));
      }
    })(() => []);
    const nl = RtNetlink.open({ transport: t, timeoutMs: 40 });
    const t0 = Date.now();
    expect(() => nl.listRoutes()).toThrowError(
      expect.objectContaining({ code: 'ETIMEDOUT', operation: 'route list' }),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a dump collects messages over several datagrams until NLMSG_DONE, skipping stale ones', () => {
    const t = new FakeTransport((req) => [
      concat(ack(req.seq - 1, 17), dumpedRoute(req.seq, '10.1.0.0/16', 4)),
      dumpedRoute(req.seq, '10.2.0.0/16', ZTUN_RT_PROTOCOL),
      concat(dumpedRoute(req.seq, '10.3.0.0/16', 4), done(req.seq)),
    ]);
    const nl = RtNetlink.open({ transport: t });
    expect(nl.listRoutes().map((r) => r.dst)).toEqual(['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16']);
    expect(nl.listRoutes({ protocol: ZTUN_RT_PROTOCOL }).map((r) => r.dst)).toEqual(['10.2.0.0/16']);
    expect(t.sent[0]!.type).toBe(RTM_GETROUTE);
  });

  it('an interrupted dump (NLM_F_DUMP_INTR) is retried', () => {
    const t = new FakeTransport((req, n) => [
      concat(
        dumpedRoute(req.seq, `10.${n}.0.0/16`, 4, NLM_F_MULTI | (n === 1 ? NLM_F_DUMP_INTR : 0)),
        done(req.seq),
      ),
    ]);
    const nl = RtNetlink.open({ transport: t });
    expect(nl.listRoutes().map((r) => r.dst)).toEqual(['10.2.0.0/16']);
    expect(t.sent).toHaveLength(2);
  });

  it('flushZtun sends each tagged route and each in-range rule back as a delete, bytes unchanged', () => {
    const dumps: Record<number, (seq: number) => Uint8Array> = {
      [RTM_GETROUTE]: (seq) =>
        concat(
          dumpedRoute(seq, '10.1.0.0/16', ZTUN_RT_PROTOCOL),
          dumpedRoute(seq, '10.2.0.0/16', 4),
          dumpedRoute(seq, '10.3.0.0/16', ZTUN_RT_PROTOCOL),
          done(seq),
        ),
      [RTM_GETRULE]: (seq) =>
        concat(
          dumpedRule(seq, 2600),
          dumpedRule(seq, 2599),
          dumpedRule(seq, 2699),
          dumpedRule(seq, 2700),
          done(seq),
        ),
    };
    // The second route delete reports ESRCH (it vanished meanwhile): not counted, not an error.
    let routeDeletes = 0;
    const t = new FakeTransport((req) => {
      if (dumps[req.type]) return [dumps[req.type]!(req.seq)];
      if (req.type === RTM_DELROUTE && ++routeDeletes === 2) return [ack(req.seq, 3)];
      return [ack(req.seq)];
    });
    const nl = RtNetlink.open({ transport: t });
    expect(nl.flushZtun()).toEqual({ routes: 1, rules: 2 });
    const dels = t.sent.filter((m) => m.type === RTM_DELROUTE || m.type === RTM_DELRULE);
    expect(dels.map((m) => m.type)).toEqual([RTM_DELROUTE, RTM_DELROUTE, RTM_DELRULE, RTM_DELRULE]);
    const first = parseMessages(dumpedRoute(0, '10.1.0.0/16', ZTUN_RT_PROTOCOL))[0]!;
    expect(dels[0]!.payload).toEqual(first.payload);
  });

  it('transport failures and use after close are NetlinkErrors; bad input never reaches the transport', () => {
    const t = new FakeTransport(() => {
      throw new SyscallError('sendto', 105);
    });
    const nl = RtNetlink.open({ transport: t });
    expect(() => nl.listRules()).toThrowError(
      expect.objectContaining({ code: 'ENOBUFS', operation: 'rule list' }),
    );
    expect(() => nl.addRoute({ dst: '10.0.0.0/33', oif: 1 })).toThrow(RoutingInputError);
    expect(t.sent).toHaveLength(1);
    nl.close();
    nl.close();
    expect(t.closed).toBe(1);
    expect(() => nl.listLinks()).toThrowError(
      expect.objectContaining({ code: 'EBADF', operation: 'link list' }),
    );
  });

  it('on another OS, open() is a NetlinkError (importing the package is fine)', () => {
    const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    try {
      expect(() => RtNetlink.open()).toThrowError(
        expect.objectContaining({ name: 'NetlinkError', code: 'EAFNOSUPPORT', operation: 'rtnetlink open' }),
      );
    } finally {
      Object.defineProperty(process, 'platform', real);
    }
  });

  it('rejects a nonsensical timeout', () => {
    expect(() => RtNetlink.open({ timeoutMs: 0 })).toThrow(RoutingInputError);
  });
});
