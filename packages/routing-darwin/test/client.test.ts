import { describe, expect, it } from 'vitest';
import {
  boundInterfaceSocketOption,
  DarwinErrno,
  decodeRouteMessage,
  encodeRouteMessage,
  IP_BOUND_IF,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_BOUND_IF,
  RouteClient,
  type RouteClientOptions,
  RouteExistsError,
  type RouteMessage,
  type RouteMessageInit,
  RouteNotFoundError,
  RoutePermissionError,
  type RouteSocket,
  RouteSyscallError,
  type RouteSystem,
  RouteTimeoutError,
  RTF_DONE,
  RTF_GATEWAY,
  RTF_IFSCOPE,
  RTF_PROTO1,
  RTF_STATIC,
  RTF_UP,
  RTM_ADD,
  RTM_CHANGE,
  RTM_DELETE,
  RTM_GET,
  RTM_IFINFO,
} from '../src/index.js';
import { concat, hex, V1 } from './vectors.js';

const PID = 4242;

interface Incoming {
  at: number; // fake ms
  bytes: Uint8Array;
}

/** What the fake kernel does with one written message. */
type Behaviour = (message: RouteMessage, now: number) => { writeErrno?: number; incoming?: Incoming[] };

/** A fake macOS: route sockets on a fake clock, scripted kernel replies, a canned NET_RT_DUMP. */
class FakeRouteSystem implements RouteSystem {
  readonly pid = PID;
  time = 0;
  sleeps: number[] = [];
  written: RouteMessage[] = [];
  writtenBytes: Uint8Array[] = [];
  socketsOpened = 0;
  socketsClosed = 0;
  readErrors: number[] = [];
  dump: Uint8Array = new Uint8Array(0);
  dumpFamilies: number[] = [];

  constructor(private readonly behaviour: Behaviour) {}

  options(extra: RouteClientOptions = {}): RouteClientOptions {
    return {
      now: () => this.time,
      sleep: async (ms) => {
        this.sleeps.push(ms);
        this.time += ms;
      },
      ...extra,
    };
  }

  async dumpRoutes(family: number): Promise<Uint8Array> {
    this.dumpFamilies.push(family);
    return this.dump;
  }

  async openRouteSocket(): Promise<RouteSocket> {
    this.socketsOpened++;
    const queue: Incoming[] = [];
    const system = this;
    let closed = false;
    return {
      async write(bytes) {
        if (closed) throw new Error('write after close');
        const decoded = decodeRouteMessage(bytes);
        if (!decoded.ok) throw decoded.error;
        // The kernel requires rtm_msglen == write length (rtsock.c:353-357).
        expect(decoded.value.addrs).toBeGreaterThan(0);
        expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(0, true)).toBe(bytes.length);
        system.written.push(decoded.value);
        system.writtenBytes.push(bytes);
        const { writeErrno, incoming } = system.behaviour(decoded.value, system.time);
        if (incoming) queue.push(...incoming);
        if (writeErrno !== undefined) throw new RouteSyscallError(writeErrno, 'write', 'fake write');
      },
      async read(buffer, timeoutMs) {
        if (closed) throw new Error('read after close');
        const errno = system.readErrors.shift();
        if (errno !== undefined) throw new RouteSyscallError(errno, 'read', 'fake read');
        queue.sort((a, b) => a.at - b.at);
        const next = queue[0];
        if (next && next.at <= system.time + timeoutMs) {
          queue.shift();
          system.time = Math.max(system.time, next.at);
          buffer.set(next.bytes.subarray(0, buffer.length));
          return Math.min(next.bytes.length, buffer.length);
        }
        system.time += timeoutMs;
        return 0;
      },
      close() {
        closed = true;
        system.socketsClosed++;
      },
    };
  }
}

/** The kernel's echo of a message: same fields, pid overwritten, RTF_DONE or rtm_errno set. */
function echo(m: RouteMessage, changes: Partial<RouteMessageInit> = {}): Uint8Array {
  return encodeRouteMessage({ ...m, pid: PID, flags: (m.flags | RTF_DONE) >>> 0, ...changes });
}

const foreign = (m: RouteMessage): Uint8Array[] => [
  echo(m, { pid: 999 }), // another process, same seq
  echo(m, { seq: m.seq + 1 }), // our pid, another seq
  echo(m, { type: m.type === RTM_ADD ? RTM_DELETE : RTM_ADD }), // another type
  concat(hex('70 00 05 0e'), new Uint8Array(108)), // RTM_IFINFO (if_msghdr), 112 bytes
  hex('ff ff ff'), // garbage
  concat(hex('5c 00 07 01'), new Uint8Array(88)), // wrong version
];

describe('RouteClient.request: reply matching, errors, deadlines, retries', () => {
  it('skips every foreign message and returns the one matching type, seq and pid', async () => {
    const sys = new FakeRouteSystem((m, now) => ({
      incoming: [...foreign(m).map((bytes, i) => ({ at: now + i, bytes })), { at: now + 10, bytes: echo(m) }],
    }));
    const client = new RouteClient(sys, sys.options());
    const result = await client.addRoute({ destination: '10.0.0.0/8', gateway: '100.64.0.1' });
    expect(result.attempts).toBe(1);
    expect(result.skipped).toBe(6);
    expect((result.reply?.flags ?? 0) & RTF_DONE).toBe(RTF_DONE);
    expect(result.reply?.seq).toBe(sys.written[0]!.seq);
    expect(sys.written[0]!.pid).toBe(PID);
    // golang/net-style padding by default: rtm_msglen counts 1024 trailing zero bytes.
    expect(sys.writtenBytes[0]!.length).toBe(140 + 1024);
    expect(sys.socketsClosed).toBe(sys.socketsOpened);
  });

  it('maps rtm_errno of the matching reply (offset 24) to typed errors, ignoring foreign errnos', async () => {
    for (const [errno, type] of [
      [DarwinErrno.EEXIST, RouteExistsError],
      [DarwinErrno.ESRCH, RouteNotFoundError],
      [DarwinErrno.EPERM, RoutePermissionError],
      [DarwinErrno.ENETUNREACH, RouteSyscallError],
    ] as const) {
      const sys = new FakeRouteSystem((m, now) => ({
        incoming: [
          { at: now, bytes: echo(m, { pid: 1, errno: DarwinErrno.EINVAL }) },
          { at: now + 1, bytes: echo(m, { errno }) },
        ],
      }));
      const error = await new RouteClient(sys, sys.options())
        .changeRoute({ destination: '10.0.0.0/8', gateway: '100.64.0.1' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as RouteSyscallError).errno).toBe(errno);
      expect((error as RouteSyscallError).source).toBe('rtm_errno');
      expect(sys.written.length).toBe(1);
    }
  });

  it('EEXIST and ESRCH from write() itself are typed and not retried', async () => {
    const sys = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.EEXIST }));
    const error = await new RouteClient(sys, sys.options())
      .addRoute({ destination: '10.0.0.0/8', gateway: '100.64.0.1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouteExistsError);
    expect((error as RouteExistsError).source).toBe('write');
    expect((error as RouteExistsError).message).toContain('RTM_ADD 10.0.0.0');
    expect(sys.written.length).toBe(1);

    const sys2 = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.ESRCH }));
    await expect(
      new RouteClient(sys2, sys2.options()).deleteRoute({ destination: '10.0.0.0/8', gateway: '1.1.1.1' }),
    ).rejects.toBeInstanceOf(RouteNotFoundError);
    expect(sys2.written.length).toBe(1);
  });

  it('ENOBUFS on write is retried with exponential backoff, a fresh socket and a fresh seq', async () => {
    let failures = 2;
    const sys = new FakeRouteSystem((m, now) =>
      failures-- > 0 ? { writeErrno: DarwinErrno.ENOBUFS } : { incoming: [{ at: now + 1, bytes: echo(m) }] },
    );
    const result = await new RouteClient(sys, sys.options()).addRoute({
      destination: 'fd00::/8',
      gateway: 'fd00::1',
    });
    expect(result.attempts).toBe(3);
    expect(sys.sleeps).toEqual([50, 100]);
    expect(sys.written.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(sys.socketsOpened).toBe(3);
    expect(sys.socketsClosed).toBe(3);
  });

  it('gives up after maxAttempts with the ENOBUFS error; backoff capped at maxBackoffMs', async () => {
    const sys = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.ENOBUFS }));
    const error = await new RouteClient(sys, sys.options({ maxAttempts: 6 }))
      .addRoute({ destination: '10.0.0.0/8', gateway: '100.64.0.1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouteSyscallError);
    expect((error as RouteSyscallError).code).toBe('ENOBUFS');
    expect(sys.written.length).toBe(6);
    expect(sys.sleeps).toEqual([50, 100, 200, 400, 500]);
  });

  it('a change whose reply never comes resolves with reply null at the deadline (write success = applied)', async () => {
    const sys = new FakeRouteSystem((m, now) => ({
      // Foreign chatter until well past the deadline must not keep us waiting.
      incoming: Array.from({ length: 50 }, (_, i) => ({ at: now + i * 100, bytes: echo(m, { pid: 7 }) })),
    }));
    const result = await new RouteClient(sys, sys.options({ replyTimeoutMs: 1000 })).addRoute({
      destination: '10.0.0.0/8',
      gateway: '100.64.0.1',
    });
    expect(result.reply).toBeNull();
    expect(result.attempts).toBe(1);
    expect(sys.time).toBeGreaterThanOrEqual(1000);
    expect(sys.time).toBeLessThanOrEqual(1000);
  });

  it('RTM_GET without a reply is retried, then fails with RouteTimeoutError', async () => {
    const sys = new FakeRouteSystem(() => ({}));
    const error = await new RouteClient(sys, sys.options({ maxAttempts: 3, replyTimeoutMs: 200 }))
      .getRoute('192.0.2.1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouteTimeoutError);
    expect(sys.written.length).toBe(3);
    expect(sys.time).toBe(3 * 200 + 50 + 100);
  });

  it('ENOBUFS on read (socket overflow) keeps waiting for our reply', async () => {
    const sys = new FakeRouteSystem((m, now) => ({ incoming: [{ at: now + 5, bytes: echo(m) }] }));
    sys.readErrors = [DarwinErrno.ENOBUFS, DarwinErrno.ENOBUFS];
    const result = await new RouteClient(sys, sys.options()).deleteRoute({
      destination: '10.0.0.0/8',
      gateway: '1.1.1.1',
    });
    expect(result.reply?.type).toBe(RTM_DELETE);
  });

  it('other read errors are thrown, and the socket is still closed', async () => {
    const sys = new FakeRouteSystem(() => ({}));
    sys.readErrors = [DarwinErrno.EBADF];
    await expect(
      new RouteClient(sys, sys.options()).addRoute({ destination: '10.0.0.0/8', gateway: '1.1.1.1' }),
    ).rejects.toMatchObject({
      code: 'EBADF',
      source: 'read',
    });
    expect(sys.socketsClosed).toBe(1);
  });
});

describe('scoped defaults (seed 004) and the CLI API', () => {
  it('addScopedDefault writes UP|STATIC|IFSCOPE|PROTO1(+GATEWAY) with rtm_index = egress', async () => {
    const sys = new FakeRouteSystem((m, now) => ({ incoming: [{ at: now, bytes: echo(m) }] }));
    const client = new RouteClient(sys, sys.options());
    expect(
      await client.addScopedDefault({ family: 'inet', interfaceIndex: 4, gateway: '192.168.1.1' }),
    ).toEqual({ created: true });
    const m = sys.written[0]!;
    expect(m.type).toBe(RTM_ADD);
    expect(m.flags).toBe(RTF_UP | RTF_STATIC | RTF_IFSCOPE | RTF_PROTO1 | RTF_GATEWAY);
    expect(m.index).toBe(4);
    expect(m.addresses).toEqual({
      dst: { family: 'inet', address: '0.0.0.0' },
      gateway: { family: 'inet', address: '192.168.1.1' },
      netmask: { family: 'inet', address: '0.0.0.0' },
    });
    // A full 16-byte netmask (the kernel compacts it itself).
    expect(sys.writtenBytes[0]![92 + 32]).toBe(16);

    await client.addScopedDefault({ family: 'inet6', interfaceIndex: 4, gateway: 'fe80::1' });
    expect(sys.written[1]!.addresses.gateway).toEqual({ family: 'inet6', address: 'fe80::1', scopeId: 4 });
    expect(sys.written[1]!.addresses.netmask).toEqual({ family: 'inet6', address: '::' });

    // Point-to-point egress: no next hop, the gateway is the interface (sockaddr_dl), no RTF_GATEWAY.
    await client.addScopedDefault({ family: 'inet', interfaceIndex: 9, interfaceName: 'ppp0' });
    expect(sys.written[2]!.flags & RTF_GATEWAY).toBe(0);
    expect(sys.written[2]!.addresses.gateway).toEqual({ family: 'link', index: 9, name: 'ppp0' });
  });

  it('EEXIST on a scoped default is "reused", not an error', async () => {
    const sys = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.EEXIST }));
    const client = new RouteClient(sys, sys.options());
    expect(
      await client.addScopedDefault({ family: 'inet', interfaceIndex: 4, gateway: '192.168.1.1' }),
    ).toEqual({ created: false });
  });

  it('flushScopedDefaults deletes exactly the RTF_PROTO1-tagged scoped defaults of both families', async () => {
    const kernelFlags = RTF_UP | RTF_GATEWAY | RTF_STATIC | RTF_DONE | 0x100; // + CLONING etc. from the kernel
    const v4Gateway = { family: 'inet', address: '192.168.1.1' } as const;
    const entry = (flags: number, index: number, dst: string, netmask?: Uint8Array) => {
      const family = dst.includes(':') ? 'inet6' : 'inet';
      const base = encodeRouteMessage({
        type: RTM_GET,
        flags,
        index,
        addresses: {
          dst: { family, address: dst },
          gateway: family === 'inet' ? v4Gateway : { family: 'inet6', address: 'fe80::1', scopeId: index },
        },
      });
      if (!netmask) return base;
      // Append a compact kernel netmask and fix rtm_msglen / rtm_addrs.
      const out = concat(base, netmask);
      new DataView(out.buffer).setUint16(0, out.length, true);
      new DataView(out.buffer).setUint32(12, 7, true);
      return out;
    };
    const ifinfo = concat(hex('70 00 05 0e'), new Uint8Array(108));
    const ours4 = entry(kernelFlags | RTF_IFSCOPE | RTF_PROTO1, 4, '0.0.0.0', hex('00 02 00 00'));
    const ours6 = entry(kernelFlags | RTF_IFSCOPE | RTF_PROTO1, 4, '::', hex('02 1e 00 00'));
    const apples = entry(kernelFlags | RTF_IFSCOPE, 4, '0.0.0.0', hex('00 02 00 00')); // macOS's own
    const taggedNotDefault = entry(
      kernelFlags | RTF_IFSCOPE | RTF_PROTO1,
      4,
      '10.0.0.0',
      hex('05 02 00 00 ff 00 00 00'),
    );
    const taggedUnscoped = entry(kernelFlags | RTF_PROTO1, 0, '0.0.0.0', hex('00 02 00 00'));
    const sys = new FakeRouteSystem((m, now) => ({ incoming: [{ at: now, bytes: echo(m) }] }));
    sys.dump = concat(ifinfo, apples, ours4, taggedNotDefault, ours6, taggedUnscoped);
    const deleted = await new RouteClient(sys, sys.options()).flushScopedDefaults();
    expect(deleted).toBe(2);
    expect(sys.dumpFamilies).toEqual([0]);
    expect(sys.written.map((m) => m.type)).toEqual([RTM_DELETE, RTM_DELETE]);
    const [d4, d6] = sys.written;
    // Kernel-only bits (DONE, CLONING) dropped; scope index and sockaddrs kept.
    expect(d4!.flags).toBe(RTF_UP | RTF_GATEWAY | RTF_STATIC | RTF_IFSCOPE | RTF_PROTO1);
    expect(d4!.index).toBe(4);
    expect(d4!.addresses).toEqual({
      dst: { family: 'inet', address: '0.0.0.0' },
      gateway: v4Gateway,
      netmask: { family: 'inet', address: '0.0.0.0' },
    });
    expect(d6!.addresses.dst).toEqual({ family: 'inet6', address: '::' });
    expect(d6!.addresses.netmask).toEqual({ family: 'inet6', address: '::' });
  });

  it('flushScopedDefaults treats ESRCH (already gone) as done and reports other failures', async () => {
    const ours = encodeRouteMessage({
      type: RTM_GET,
      flags: RTF_UP | RTF_STATIC | RTF_IFSCOPE | RTF_PROTO1 | RTF_GATEWAY,
      index: 4,
      addresses: {
        dst: { family: 'inet', address: '0.0.0.0' },
        gateway: { family: 'inet', address: '10.1.1.1' },
        netmask: { family: 'inet', address: '0.0.0.0' },
      },
    });
    const gone = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.ESRCH }));
    gone.dump = concat(ours, ours);
    expect(await new RouteClient(gone, gone.options()).flushScopedDefaults()).toBe(0);
    expect(gone.written.length).toBe(2);

    const denied = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.EPERM }));
    denied.dump = ours;
    await expect(new RouteClient(denied, denied.options()).flushScopedDefaults()).rejects.toBeInstanceOf(
      RoutePermissionError,
    );
  });

  it('getRoute sends RTM_GET with DST and an empty RTA_IFP and reads the reply into a RouteEntry', async () => {
    const sys = new FakeRouteSystem((m, now) => ({
      incoming: [
        {
          at: now,
          bytes: encodeRouteMessage({
            type: RTM_GET,
            pid: PID,
            seq: m.seq,
            index: 4,
            flags: RTF_UP | RTF_GATEWAY | RTF_STATIC | RTF_DONE,
            addresses: {
              dst: { family: 'inet', address: '0.0.0.0' },
              gateway: { family: 'inet', address: '192.168.1.1' },
              netmask: { family: 'inet', address: '0.0.0.0' },
              ifp: { family: 'link', index: 4, type: 6, name: 'en0' },
            },
          }),
        },
      ],
    }));
    const entry = await new RouteClient(sys, sys.options()).getRoute('1.1.1.1');
    const sent = sys.written[0]!;
    expect(sent.type).toBe(RTM_GET);
    expect(sent.addresses).toEqual({
      dst: { family: 'inet', address: '1.1.1.1' },
      ifp: { family: 'link', index: 0 },
    });
    expect(entry).toEqual({
      family: 'inet',
      destination: '0.0.0.0/0',
      prefixLength: 0,
      gateway: { kind: 'address', address: '192.168.1.1' },
      interfaceIndex: 4,
      interfaceName: 'en0',
      flags: RTF_UP | RTF_GATEWAY | RTF_STATIC | RTF_DONE,
      scoped: false,
      tagged: false,
    });

    const scoped = new FakeRouteSystem((_m, now) => ({ incoming: [{ at: now, bytes: V1 }] }));
    await new RouteClient(scoped, scoped.options()).getRoute('0.0.0.0/0', { scopedTo: 1 }).catch(() => {});
    expect(scoped.written[0]!.flags & RTF_IFSCOPE).toBe(RTF_IFSCOPE);
    expect(scoped.written[0]!.index).toBe(1);
  });

  it('getRoute resolves null on ESRCH (from write or from the reply)', async () => {
    const sys = new FakeRouteSystem(() => ({ writeErrno: DarwinErrno.ESRCH }));
    expect(await new RouteClient(sys, sys.options()).getRoute('10.9.9.9')).toBeNull();
    const sys2 = new FakeRouteSystem((m, now) => ({
      incoming: [{ at: now, bytes: echo(m, { errno: DarwinErrno.ESRCH }) }],
    }));
    expect(await new RouteClient(sys2, sys2.options()).getRoute('10.9.9.9')).toBeNull();
  });

  it('listRoutes decodes the dump into entries (V1 and foreign messages included)', async () => {
    const sys = new FakeRouteSystem(() => ({}));
    sys.dump = concat(V1, concat(hex('70 00 05 0e'), new Uint8Array(108)));
    const entries = await new RouteClient(sys, sys.options()).listRoutes('inet');
    expect(sys.dumpFamilies).toEqual([2]);
    expect(entries).toEqual([
      {
        family: 'inet',
        destination: '0.0.0.0/0',
        prefixLength: 0,
        gateway: { kind: 'none' },
        interfaceIndex: 1,
        flags: 0x01000803,
        scoped: true,
        tagged: false,
      },
    ]);
    sys.dump = V1.subarray(0, 100);
    await expect(new RouteClient(sys, sys.options()).listRoutes()).rejects.toMatchObject({
      code: 'BAD_LENGTH',
    });
  });

  it('RTM_CHANGE of an interface route (point-to-point, no RTF_GATEWAY)', async () => {
    const sys = new FakeRouteSystem((m, now) => ({ incoming: [{ at: now, bytes: echo(m) }] }));
    await new RouteClient(sys, sys.options()).changeRoute({
      destination: '198.18.0.0/15',
      interfaceIndex: 20,
    });
    expect(sys.written[0]).toMatchObject({ type: RTM_CHANGE, index: 20, flags: RTF_UP | RTF_STATIC });
    expect(sys.written[0]!.addresses.gateway).toEqual({ family: 'link', index: 20 });
  });
});

describe('IP_BOUND_IF / IPV6_BOUND_IF setsockopt arguments', () => {
  it('computes level, option and a host-order int', () => {
    expect(boundInterfaceSocketOption('inet', 4)).toEqual({
      level: IPPROTO_IP,
      option: IP_BOUND_IF,
      value: new Uint8Array([4, 0, 0, 0]),
    });
    expect(boundInterfaceSocketOption('inet6', 0x1234)).toEqual({
      level: IPPROTO_IPV6,
      option: IPV6_BOUND_IF,
      value: new Uint8Array([0x34, 0x12, 0, 0]),
    });
    expect([IPPROTO_IP, IP_BOUND_IF, IPPROTO_IPV6, IPV6_BOUND_IF]).toEqual([0, 25, 41, 125]);
    expect(() => boundInterfaceSocketOption('inet', -1)).toThrow();
  });
});

describe('RTM_IFINFO constant used by the foreign-message fixture', () => {
  it('is 0x0e', () => expect(RTM_IFINFO).toBe(0x0e));
});
