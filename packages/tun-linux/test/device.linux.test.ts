import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createNetns,
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  runInNetns,
  skipWhen,
  waitFor,
  waitForPort,
} from '@ztun/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LinuxTun, openTunSync, TunError, TunUnsupportedError } from '../src/index.js';
import type { OpenTunOptions } from '../src/types.js';
import { echoResponder, finished } from './echo.js';

const skip = netnsSkipReason();

const fdCount = () => readdirSync('/proc/self/fd').length;

interface LinkJson {
  ifname: string;
  ifindex: number;
  mtu: number;
  flags: string[];
  operstate?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

describe('tun-linux in a network namespace', skipWhen(skip), () => {
  let ns: Netns;
  // Every device a test opens is closed after it even when an assertion fails first, so one failure does
  // not leave fds and links behind for the next test's counts.
  const opened = new Set<LinuxTun>();
  const open = (opts: OpenTunOptions): LinuxTun => {
    const dev = runInNetns(ns, () => openTunSync(opts));
    opened.add(dev);
    return dev;
  };
  const links = () => ns.ipJson<LinkJson[]>('link', 'show').map((l) => l.ifname);

  beforeAll(async () => {
    ns = createNetns('tun');
    // Warm up koffi, the addon and netlink once so fd counts below compare like with like.
    await open({ name: 'ztwarm' }).close();
  });
  afterEach(async () => {
    await Promise.all([...opened].map((d) => d.close()));
    opened.clear();
  });
  afterAll(async () => {
    await ns?.dispose();
  });

  it('creates a device with IPv4 and IPv6 addresses, MTU and link up, and removes it on close', async () => {
    const before = fdCount();
    const dev = open({ name: 'ztcfg0', mtu: 9000, addresses: ['10.211.0.1/24', 'fd00:211::1/64'] });
    expect(dev.name).toBe('ztcfg0');
    expect(dev.mtu).toBe(9000);
    expect(dev.fd).toBeGreaterThan(2);
    expect(fdCount()).toBe(before + 1);

    const [link] = ns.ipJson<LinkJson[]>('link', 'show', 'dev', 'ztcfg0');
    expect(link).toMatchObject({ ifname: 'ztcfg0', ifindex: dev.index, mtu: 9000 });
    expect(link!.flags).toEqual(expect.arrayContaining(['UP', 'POINTOPOINT', 'NOARP']));
    const [addr] = ns.ipJson<LinkJson[]>('addr', 'show', 'dev', 'ztcfg0');
    const addrs = addr!.addr_info!.map((a) => `${a.local}/${a.prefixlen}`);
    expect(addrs).toEqual(expect.arrayContaining(['10.211.0.1/24', 'fd00:211::1/64']));
    // Not in the host namespace.
    expect(spawnSync('ip', ['link', 'show', 'dev', 'ztcfg0']).status).not.toBe(0);

    await dev.close();
    await dev.close(); // idempotent
    expect(dev.fd).toBe(-1);
    expect(links()).not.toContain('ztcfg0');
    expect(fdCount()).toBe(before);
  });

  it('lets the kernel pick the name from a %d pattern and keeps the link down when up is false', async () => {
    const a = open({ name: 'ztpick%d', up: false });
    const b = open({ name: 'ztpick%d', up: false });
    const c = open({}); // no name: the kernel's own tun%d
    expect(c.name).toMatch(/^tun\d+$/);
    await c.close();
    expect(a.name).toMatch(/^ztpick\d+$/);
    expect(b.name).toMatch(/^ztpick\d+$/);
    expect(a.name).not.toBe(b.name);
    const [link] = ns.ipJson<LinkJson[]>('link', 'show', 'dev', a.name);
    expect(link!.flags).not.toContain('UP');
    await Promise.all([a.close(), b.close()]);
    expect(links().filter((n) => n.startsWith('ztpick'))).toEqual([]);
  });

  for (const io of ['native', 'threadpool', 'offload'] as const) {
    it(`answers ping and ping -6 from JS through the device with 0% loss (${io} I/O)`, async () => {
      const before = fdCount();
      const dev = open({
        name: `ztping${io[0]}`,
        addresses: ['10.212.0.1/24', 'fd00:212::1/64'],
        io: io === 'offload' ? 'native' : io,
        offload: io === 'offload',
      });
      const echo = echoResponder(64);
      const errors: Error[] = [];
      dev.onError((e) => errors.push(e));
      dev.onBatch((batch) => echo.handle(batch, (b) => dev.writeBatch(b)));

      const v4 = ns.spawn('ping', ['-c', '20', '-i', '0.01', '-W', '2', '10.212.0.5']);
      const v6 = ns.spawn('ping', ['-6', '-c', '20', '-i', '0.01', '-W', '2', 'fd00:212::5']);
      expect(await finished(v4)).toBe(0);
      expect(await finished(v6)).toBe(0);
      // The kernel drops echo replies with a bad IPv4/ICMP/ICMPv6 checksum, so 0% loss also proves them.
      expect(v4.output()).toMatch(/20 packets transmitted, 20 received, 0% packet loss/);
      expect(v6.output()).toMatch(/20 packets transmitted, 20 received, 0% packet loss/);
      expect(echo.answered.v4).toBe(20);
      expect(echo.answered.v6).toBe(20);
      expect(dev.counters.txPackets).toBe(40);
      expect(dev.counters.rxPackets).toBeGreaterThanOrEqual(40);
      expect(dev.counters.txDropped).toBe(0);
      expect(errors).toEqual([]);

      await dev.close();
      expect(links()).not.toContain(dev.name);
      expect(fdCount()).toBe(before);
    });
  }

  // With offload the kernel hands over TCP segments with only the pseudo-header sum in their checksum field,
  // and with TSO whole super-packets (gsoSize > 0, longer than the MTU).
  // Swapping the addresses keeps that sum (and a full checksum) valid, so the reflected segments go back
  // flagged partial and reach the local iperf3 peer unverified: the transfer only completes if the partial
  // flag survives the round trip (a partial packet written as complete fails verification and is dropped).
  for (const family of [4, 6] as const) {
    it(
      `offload: TCP through a reflector, partial checksums both ways (IPv${family})`,
      skipWhen(missingCommandsReason(['iperf3'])),
      async () => {
        const before = fdCount();
        const dev = open({
          name: `ztoff${family}`,
          addresses: ['10.214.0.1/24', 'fd00:214::1/64'],
          offload: true,
        });
        const errors: Error[] = [];
        dev.onError((e) => errors.push(e));
        let partial = 0;
        let tcp = 0;
        let gso = 0;
        dev.onBatch((batch) => {
          const d = batch.data;
          for (let i = 0; i < batch.count; i++) {
            const o = batch.offsets[i]!;
            const v6 = d[o]! >> 4 === 6;
            const alen = v6 ? 16 : 4;
            const src = o + (v6 ? 8 : 12);
            if ((v6 ? d[o + 6] : d[o + 9]) === 6) tcp++;
            if (batch.flags![i]! & 1) partial++;
            if (batch.gsoSize![i]! > 0) {
              gso++;
              expect(batch.lengths[i]).toBeGreaterThan(dev.mtu);
            }
            for (let k = 0; k < alen; k++) {
              const t = d[src + k]!;
              d[src + k] = d[src + alen + k]!;
              d[src + alen + k] = t;
            }
          }
          dev.writeBatch(batch);
        });
        const port = 5200 + family;
        const server = ns.spawn('iperf3', ['-s', '-1', '-p', String(port)]);
        await waitForPort(ns.name, port);
        const peer = family === 4 ? '10.214.0.2' : 'fd00:214::2';
        const client = ns.spawn('iperf3', ['-c', peer, '-p', String(port), '-n', '20M', '-J']);
        expect(await finished(client)).toBe(0);
        expect(await finished(server)).toBe(0);
        // iperf3 -n exits 0 once the 20 MiB were sent and acknowledged by the server's TCP.
        const report = JSON.parse(client.output()) as {
          end: { sum_sent: { bytes: number }; sum_received: { bytes: number } };
        };
        expect(report.end.sum_sent.bytes).toBeGreaterThanOrEqual(20 * 1024 * 1024);
        expect(report.end.sum_received.bytes).toBeGreaterThan(0);
        expect(tcp).toBeGreaterThan(100);
        // Nearly every data segment arrives partial (SYNs and pure ACKs too: the kernel offloads them all).
        expect(partial).toBeGreaterThan(tcp / 2);
        // TSO at MTU 1500: iperf3's segments arrive as super-packets and go back whole (the reflector passes
        // gsoSize back with the batch); the kernel refused nothing.
        expect(dev.offload).toEqual({ checksum: true, tso: true, uso: expect.any(Boolean) });
        expect(gso).toBeGreaterThan(0);
        expect(dev.counters.gsoPacketsRead).toBe(gso);
        expect(dev.counters.gsoPacketsWritten).toBe(gso);
        expect(dev.counters.txDropped).toBe(0);
        expect(errors).toEqual([]);
        await dev.close();
        expect(fdCount()).toBe(before);
      },
    );
  }

  it('reports a throwing receiver through onError and keeps serving; write() sends single packets', async () => {
    const dev = open({ name: 'ztthrow', addresses: ['10.218.0.1/24'] });
    const echo = echoResponder(64);
    const errors: Error[] = [];
    dev.onError((e) => errors.push(e));
    let thrown = false;
    dev.onBatch((batch) => {
      if (!thrown) {
        thrown = true;
        throw new Error('receiver bug');
      }
      echo.handle(batch, (b) => {
        for (let i = 0; i < b.count; i++)
          dev.write(b.data.subarray(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!));
      });
    });
    const ping = ns.spawn('ping', ['-c', '6', '-i', '0.05', '-W', '1', '10.218.0.5']);
    await finished(ping);
    expect(errors.map((e) => e.message)).toEqual(['receiver bug']);
    expect(echo.answered.v4).toBeGreaterThanOrEqual(5); // the first ping was in the batch that threw
    expect(ping.output()).toMatch(/6 packets transmitted, [56] received/);
    expect(dev.counters.txPackets).toBe(echo.answered.v4);
    await dev.close();
  });

  it('can be closed from inside its own receiver', async () => {
    const before = fdCount();
    const dev = open({ name: 'ztself', addresses: ['10.219.0.1/24'] });
    let batches = 0;
    let closing: Promise<void> | undefined;
    dev.onBatch((batch) => {
      batches++;
      closing = dev.close();
      dev.writeBatch(batch); // after close: counted, not written
    });
    const ping = ns.spawn('ping', ['-c', '3', '-i', '0.05', '-W', '1', '10.219.0.5']);
    await waitFor('the first batch', () => batches > 0, 3000);
    await closing;
    await finished(ping);
    expect(batches).toBe(1);
    expect(dev.counters.txPackets).toBe(0);
    expect(dev.counters.txDropped).toBeGreaterThan(0);
    expect(links()).not.toContain('ztself');
    expect(fdCount()).toBe(before);
  });

  for (const io of ['native', 'threadpool'] as const) {
    it(`pause() stops delivery while packets wait in the kernel; resume() delivers them (${io} I/O)`, async () => {
      const dev = open({ name: `ztpause${io[0]}`, addresses: ['10.213.0.1/24'], io });
      let delivered = 0;
      let pings = 0;
      dev.onBatch((b) => {
        delivered += b.count;
        for (let i = 0; i < b.count; i++) {
          const p = b.data.subarray(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!);
          if (p[0] === 0x45 && p[9] === 1 && p[19] === 9 && p[20] === 8) pings++; // ICMP echo to 10.213.0.9
        }
      });
      dev.pause();
      // Unanswered pings: the packets sit in the TUN's queue because nobody reads.
      const ping = ns.spawn('ping', ['-c', '5', '-i', '0.01', '-W', '1', '10.213.0.9']);
      await finished(ping);
      await new Promise((r) => setTimeout(r, 50));
      expect(ping.output()).toMatch(/5 packets transmitted, 0 received/);
      expect(delivered).toBe(0);
      dev.resume();
      await waitFor('the queued pings after resume', () => pings === 5, 3000);
      expect(dev.counters.rxPackets).toBe(delivered);
      await dev.close();
    });
  }

  it('reports the device vanishing through onError (not a crash) and still closes cleanly', async () => {
    const before = fdCount();
    const dev = open({ name: 'ztgone', addresses: ['10.214.0.1/24'] });
    const errors: Error[] = [];
    dev.onError((e) => errors.push(e));
    dev.onBatch(() => {});
    ns.ip('link', 'del', 'ztgone');
    await waitFor('an error after the link is deleted', () => errors.length > 0, 3000);
    expect(errors[0]).toBeInstanceOf(TunError);
    expect((errors[0] as TunError).code).toBe('EBADFD');
    expect((errors[0] as TunError).operation).toMatch(/ztgone/);
    // Writing afterwards is counted, not thrown.
    dev.write(new Uint8Array(28).fill(0x45, 0, 1));
    expect(dev.counters.txDropped).toBe(1);
    await dev.close();
    expect(fdCount()).toBe(before);
  });

  it('drops and counts packets larger than a slot (MTU raised behind its back) and keeps reading', async () => {
    const dev = open({ name: 'ztbig', addresses: ['10.217.0.1/24'] });
    const echo = echoResponder(64);
    dev.onBatch((batch) => echo.handle(batch, (b) => dev.writeBatch(b)));
    ns.ip('link', 'set', 'dev', 'ztbig', 'mtu', '9000'); // slots stay sized for 1500
    const big = ns.spawn('ping', ['-c', '3', '-i', '0.01', '-W', '1', '-s', '4000', '10.217.0.5']);
    await finished(big);
    expect(dev.counters.rxDropped).toBe(3);
    const small = ns.spawn('ping', ['-c', '3', '-i', '0.01', '-W', '1', '10.217.0.5']);
    expect(await finished(small)).toBe(0);
    expect(echo.answered.v4).toBe(3);
    await dev.close();
  });

  it('counts writes to a link that is down and reports EIO once', async () => {
    const dev = open({ name: 'ztdown', up: false });
    const errors: TunError[] = [];
    dev.onError((e) => errors.push(e as TunError));
    const packet = new Uint8Array(28); // a valid-looking IPv4/UDP header
    packet.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17]);
    dev.write(packet);
    dev.write(packet);
    expect(dev.counters.txDropped).toBe(2);
    expect(errors.map((e) => [e.operation, e.code])).toEqual([['write ztdown', 'EIO']]);
    await dev.close();
  });

  it('an error listener that throws inside writeBatch() throws to its caller, not to the process', async () => {
    const dev = open({ name: 'nvthrow', up: false });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const seen: string[] = [];
      dev.onError(() => {
        throw new Error('listener bug');
      });
      dev.onError((e) => seen.push((e as TunError).code));
      const data = new Uint8Array(28); // a valid-looking IPv4/UDP header, refused with EIO: the link is down
      data.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17]);
      const batch = { count: 3, data, offsets: new Uint32Array(3), lengths: new Uint32Array(3).fill(28) };
      expect(() => dev.writeBatch(batch)).toThrow('listener bug');
      // Every packet of the batch was still dealt with, and every listener saw the error.
      expect(dev.counters.txDropped).toBe(3);
      expect(seen).toEqual(['EIO']);
      dev.writeBatch(batch); // the same spell of EIO: counted, not reported again
      expect(dev.counters.txDropped).toBe(6);
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    await dev.close();
  });

  it('counts packets the kernel refuses or that lie outside their buffer', async () => {
    const dev = open({ name: 'ztbadw', addresses: ['10.215.0.1/24'] });
    const errors: Error[] = [];
    dev.onError((e) => errors.push(e));
    const data = new Uint8Array(64); // version nibble 0: neither IPv4 nor IPv6 → EINVAL from the kernel
    dev.writeBatch({
      count: 2,
      data,
      offsets: Uint32Array.of(0, 60),
      lengths: Uint32Array.of(40, 10), // the second runs past the end of data
    });
    expect(dev.counters.txDropped).toBe(2);
    expect(dev.counters.txPackets).toBe(0);
    expect(() =>
      dev.writeBatch({ count: 3, data, offsets: new Uint32Array(1), lengths: new Uint32Array(1) }),
    ).toThrow(RangeError);
    expect(errors).toEqual([]);
    await dev.close();
  });

  describe('bad input → typed errors, nothing left behind', () => {
    const expectTunError = (fn: () => unknown, shape: Partial<TunError>) => {
      const before = fdCount();
      const linksBefore = links();
      let thrown: unknown;
      try {
        fn();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(TunError);
      expect(thrown).toMatchObject(shape);
      expect(fdCount()).toBe(before);
      expect(links()).toEqual(linksBefore);
      return thrown as TunError;
    };

    it('a name over 15 bytes', () => {
      const e = expectTunError(() => open({ name: 'ztun-name-too-long' }), {
        operation: 'TUNSETIFF',
        code: 'EINVAL',
      });
      expect(e.message).toMatch(/18 bytes/);
    });

    it('a missing /dev/net/tun', () => {
      expectTunError(() => open({ devicePath: '/nonexistent/net/tun' }), {
        operation: 'open /nonexistent/net/tun',
        code: 'ENOENT',
        errno: 2,
      });
    });

    it('a name held by another open device (EBUSY)', async () => {
      const first = open({ name: 'ztbusy' });
      expectTunError(() => open({ name: 'ztbusy' }), { operation: 'TUNSETIFF', code: 'EBUSY' });
      await first.close();
    });

    it('a name held by a device of another kind (EINVAL from the kernel)', () => {
      ns.ip('link', 'add', 'ztveth0', 'type', 'veth', 'peer', 'name', 'ztveth1');
      expectTunError(() => open({ name: 'ztveth0' }), { operation: 'TUNSETIFF', code: 'EINVAL', errno: 22 });
      ns.ip('link', 'del', 'ztveth0');
    });

    it('an address the kernel refuses names the step and removes the half-made device', () => {
      // IPv6 needs an MTU of at least 1280: the kernel refuses the address on a 1000-byte link.
      const e = expectTunError(() => open({ name: 'ztv6mtu', mtu: 1000, addresses: ['fd00:216::1/64'] }), {
        operation: 'add address fd00:216::1/64 on ztv6mtu',
      });
      expect(e.errno).toBeGreaterThan(0);
    });

    it('bad options', () => {
      expectTunError(() => open({ mtu: 70000 }), { operation: 'option mtu', code: 'EINVAL' });
      expectTunError(() => open({ batchSize: 0 }), { operation: 'option batchSize', code: 'EINVAL' });
      expectTunError(() => open({ addresses: ['10.0.0.1/33'] }), { operation: 'option addresses' });
      expectTunError(() => open({ addresses: ['not-an-ip'] }), { operation: 'option addresses' });
      // An empty prefix length and an IPv6 zone are not interface addresses (both once passed node:net's isIP).
      expectTunError(() => open({ addresses: ['10.0.0.1/'] }), { operation: 'option addresses' });
      expectTunError(() => open({ addresses: ['fe80::1%eth0/64'] }), { operation: 'option addresses' });
      expectTunError(() => open({ io: 'uring' as never }), { operation: 'option io' });
    });

    it('reserved options that are not implemented yet, and offload without the native engine', () => {
      for (const opts of [{ multiQueue: true }, { offload: true, io: 'threadpool' as const }]) {
        const before = fdCount();
        expect(() => open(opts)).toThrow(TunUnsupportedError);
        expect(fdCount()).toBe(before);
      }
    });

    it('no CAP_NET_ADMIN (EPERM), in a child process without the capability', () => {
      const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
      expect(existsSync(dist), `build the package first (npx tsup): ${dist}`).toBe(true);
      const script = `
        import { openTunSync } from ${JSON.stringify(dist)};
        try { openTunSync({ name: 'ztnocap' }); console.log(JSON.stringify({ ok: true })); }
        catch (e) { console.log(JSON.stringify({ name: e.name, operation: e.operation, code: e.code, errno: e.errno })); }`;
      // Inside the test namespace, so even a failed capability drop could not touch the host's links.
      const r = ns.tryExec('setpriv', [
        '--bounding-set=-net_admin',
        '--inh-caps=-net_admin',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ]);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        name: 'TunError',
        operation: 'TUNSETIFF',
        code: 'EPERM',
        errno: 1,
      });
      expect(links()).not.toContain('ztnocap');
    });
  });
});
