import type { PacketBatch, TunDevice } from '@ztun/packet';
import { skipUnless } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_INVALID_DATA, WINTUN_DEFAULT_RING_CAPACITY } from '../src/constants.js';
import type { WindowsTun } from '../src/device.js';
import { TunError } from '../src/errors.js';
import { openWintunDevice } from '../src/open.js';
import { FAKE_LUID, FakeWintun, fakeHost, packet } from './fake-wintun.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

function copyBatch(b: PacketBatch): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.count; i++) out.push(b.data.slice(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!));
  return out;
}

let open: WindowsTun[] = [];
afterEach(async () => {
  await Promise.all(open.map((d) => d.close()));
  open = [];
});

function device(fake: FakeWintun, opts: Parameters<typeof openWintunDevice>[2] = {}): WindowsTun {
  const d = openWintunDevice(fake, fakeHost().routing, { waitTimeoutMs: 20, ...opts });
  open.push(d);
  return d;
}

describe('WindowsTun with a fake Wintun', () => {
  it('fits the TunDevice shape', () => {
    const d: TunDevice = device(new FakeWintun(), { name: 'ztun7', mtu: 1400 });
    expect([d.name, d.index, d.mtu]).toEqual(['ztun7', 17, 1400]);
    expect(d.counters).toEqual({
      rxPackets: 0,
      rxBytes: 0,
      txPackets: 0,
      txBytes: 0,
      rxDropped: 0,
      txDropped: 0,
    });
  });

  it('packets in: one batch per wake-up with correct offsets, lengths and bytes', async () => {
    const fake = new FakeWintun();
    const d = device(fake);
    const batches: Uint8Array[][] = [];
    d.onBatch((b) => batches.push(copyBatch(b)));
    const sent = [packet(1, 60), packet(2, 1500), packet(3, 40)];
    fake.inject(...sent);
    await until(() => batches.flat().length === 3, 'three packets');
    expect(batches.flat()).toEqual(sent);
    expect(d.counters.rxPackets).toBe(3);
    expect(d.counters.rxBytes).toBe(1600);
  });

  it('batches are bounded by batchSize and keep order', async () => {
    const fake = new FakeWintun();
    const d = device(fake, { batchSize: 64 });
    const sizes: number[] = [];
    const ids: number[] = [];
    d.onBatch((b) => {
      sizes.push(b.count);
      for (let i = 0; i < b.count; i++)
        ids.push(b.data[b.offsets[i]! + 1]! | (b.data[b.offsets[i]! + 59]! << 8));
    });
    fake.inject(...Array.from({ length: 150 }, (_, i) => packet(i)));
    await until(() => ids.length === 150, '150 packets');
    expect(sizes).toEqual([64, 64, 22]);
    expect(ids).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  for (const batchesPerWake of [1, 3]) {
    it(`batchesPerWake ${batchesPerWake}: that many full batches back to back, then the event loop runs`, async () => {
      const fake = new FakeWintun();
      const d = device(fake, { batchSize: 4, batchesPerWake });
      let batches = 0;
      let seenByOtherCallback = -1;
      d.onBatch(() => {
        if (batches++ === 0) setImmediate(() => (seenByOtherCallback = batches));
      });
      fake.inject(...Array.from({ length: 40 }, (_, i) => packet(i)));
      await until(() => batches === 10, 'ten batches');
      expect(seenByOtherCallback).toBe(batchesPerWake);
    });
  }

  it('maximal (65535-byte) packets always fit', async () => {
    const fake = new FakeWintun();
    const d = device(fake, { batchSize: 4, mtu: 1500 });
    const got: Uint8Array[] = [];
    d.onBatch((b) => got.push(...copyBatch(b)));
    const big = [packet(1, 65535), packet(2, 65535), packet(3, 65535)];
    fake.inject(...big);
    await until(() => got.length === 3, 'big packets');
    // Buffer.compare: deep-equal on 64 KiB arrays is slow
    expect(got.map((p, i) => Buffer.compare(p, big[i]!))).toEqual([0, 0, 0]);
    expect(d.counters.rxDropped).toBe(0);
  });

  it('packets out: writeBatch and write go to the send ring and are counted', () => {
    const fake = new FakeWintun();
    const d = device(fake);
    const data = new Uint8Array(200);
    data.set(packet(1, 60), 10);
    data.set(packet(2, 100), 90);
    d.writeBatch({ count: 2, data, offsets: Uint32Array.of(10, 90), lengths: Uint32Array.of(60, 100) });
    d.write(packet(3, 40));
    expect(fake.tx).toEqual([packet(1, 60), packet(2, 100), packet(3, 40)]);
    expect(d.counters).toMatchObject({ txPackets: 3, txBytes: 200, txDropped: 0 });
  });

  it('a receiver may rewrite a batch in place and write it back before returning', async () => {
    const fake = new FakeWintun();
    const d = device(fake);
    d.onBatch((b) => {
      for (let i = 0; i < b.count; i++) b.data[b.offsets[i]!] = 0x46;
      d.writeBatch(b);
    });
    fake.inject(packet(1), packet(2));
    await until(() => fake.tx.length === 2, 'echo');
    expect(fake.tx.map((p) => p[0])).toEqual([0x46, 0x46]);
    expect(fake.tx.map((p) => p[1])).toEqual([1, 2]);
  });

  it('empty ring: waits off the main thread without blocking the event loop, then reads', async () => {
    const fake = new FakeWintun();
    const d = device(fake, { waitTimeoutMs: 300 });
    const got: Uint8Array[] = [];
    d.onBatch((b) => got.push(...copyBatch(b)));
    await until(() => fake.waitsInFlight === 1, 'a wait');
    const callsWhileWaiting = fake.receiveCalls;
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
    }, 5);
    await until(() => timerRan, 'a timer while the wait is in flight'); // the event loop keeps running
    expect(fake.receiveCalls).toBe(callsWhileWaiting); // and nothing spun on the empty ring
    fake.inject(packet(9));
    await until(() => got.length === 1, 'packet after wait');
    expect(got[0]).toEqual(packet(9));
  });

  it('wait timeouts just loop (close can end a wait)', async () => {
    const fake = new FakeWintun();
    const d = device(fake, { waitTimeoutMs: 5 });
    d.onBatch(() => {});
    await until(() => fake.waitsStarted >= 3, 'several timed-out waits');
  });

  it('adapter gone: one ADAPTER_GONE error, reading stops, writes are counted drops, close still releases', async () => {
    const fake = new FakeWintun();
    const d = device(fake);
    const errors: Error[] = [];
    d.onError((e) => errors.push(e));
    d.onBatch(() => {});
    await until(() => fake.waitsInFlight === 1, 'a wait');
    fake.remove();
    await until(() => errors.length === 1, 'the error');
    expect(errors[0]).toBeInstanceOf(TunError);
    expect((errors[0] as TunError).code).toBe('ADAPTER_GONE');
    expect((errors[0] as TunError).win32Code).toBe(38);
    const calls = fake.receiveCalls;
    await tick(50);
    expect(fake.receiveCalls).toBe(calls);
    d.write(packet(1));
    expect(d.counters.txDropped).toBe(1);
    await d.close();
    expect(fake.calls.slice(-2)).toEqual(['endSession', 'closeAdapter']);
    expect(errors).toHaveLength(1);
  });

  it('adapter gone seen on write: ADAPTER_GONE error and a counted drop', () => {
    const fake = new FakeWintun();
    const d = device(fake);
    const errors: TunError[] = [];
    d.onError((e) => errors.push(e as TunError));
    fake.gone = true;
    d.write(packet(1));
    d.write(packet(2));
    expect(errors.map((e) => e.code)).toEqual(['ADAPTER_GONE']);
    expect(d.counters.txDropped).toBe(2);
  });

  it('full send ring: packets beyond it are dropped and counted, not errors', () => {
    const fake = new FakeWintun();
    fake.sendRingFree = 2;
    const d = device(fake);
    const errors: Error[] = [];
    d.onError((e) => errors.push(e));
    for (let i = 0; i < 5; i++) d.write(packet(i));
    expect(fake.tx).toHaveLength(2);
    expect(d.counters).toMatchObject({ txPackets: 2, txDropped: 3 });
    expect(errors).toEqual([]);
    fake.sendRingFree = 1; // the ring drained: writes work again
    d.write(packet(7));
    expect(d.counters.txPackets).toBe(3);
  });

  it('bad write sizes are counted drops and never reach Wintun', () => {
    const fake = new FakeWintun();
    const d = device(fake);
    d.write(new Uint8Array(0));
    d.write(new Uint8Array(65536));
    expect(fake.tx).toHaveLength(0);
    expect(d.counters.txDropped).toBe(2);
  });

  it('corrupt ring (ERROR_INVALID_DATA) is a RING_CORRUPT error and stops reading', async () => {
    const fake = new FakeWintun();
    fake.receiveFailure = ERROR_INVALID_DATA;
    const d = device(fake);
    const errors: TunError[] = [];
    d.onError((e) => errors.push(e as TunError));
    d.onBatch(() => {});
    await until(() => errors.length === 1, 'error');
    expect(errors[0]!.code).toBe('RING_CORRUPT');
  });

  it('a throwing binding is reported once through onError, never an unhandled rejection', async () => {
    const fake = new FakeWintun();
    fake.receivePacket = () => {
      throw new Error('koffi blew up');
    };
    const d = device(fake);
    const errors: Error[] = [];
    d.onError((e) => errors.push(e));
    d.onBatch(() => {});
    await until(() => errors.length === 1, 'the error');
    expect(errors[0]!.message).toBe('koffi blew up');
    const other = device(
      Object.assign(new FakeWintun(), {
        sendPacket: () => {
          throw new Error('send blew up');
        },
      }),
    );
    const otherErrors: Error[] = [];
    other.onError((e) => otherErrors.push(e));
    expect(() => other.write(packet(1))).not.toThrow();
    expect(otherErrors.map((e) => e.message)).toEqual(['send blew up']);
    expect(other.counters.txDropped).toBe(1);
    await d.close();
    expect(fake.calls.slice(-2)).toEqual(['endSession', 'closeAdapter']);
  });

  it('a throwing receiver is reported and does not stop the loop', async () => {
    const fake = new FakeWintun();
    const d = device(fake);
    const errors: Error[] = [];
    d.onError((e) => errors.push(e));
    let n = 0;
    d.onBatch(() => {
      n++;
      if (n === 1) throw new Error('boom');
    });
    fake.inject(packet(1));
    await until(() => errors.length === 1, 'error');
    fake.inject(packet(2));
    await until(() => n === 2, 'second batch');
    expect(errors[0]!.message).toBe('boom');
  });

  it('pause stops reading (packets stay in the ring); resume delivers them', async () => {
    const fake = new FakeWintun();
    const d = device(fake);
    const got: Uint8Array[] = [];
    d.onBatch((b) => got.push(...copyBatch(b)));
    d.pause();
    await tick(40);
    fake.inject(packet(1), packet(2));
    await tick(60);
    expect(got).toHaveLength(0);
    expect(fake.rx).toHaveLength(2);
    d.resume();
    await until(() => got.length === 2, 'resumed');
  });

  it('close: idempotent, waits for the in-flight wait before EndSession, then closes the adapter', async () => {
    const fake = new FakeWintun();
    const d = openWintunDevice(fake, fakeHost().routing, { waitTimeoutMs: 50 });
    d.onBatch(() => {});
    await until(() => fake.waitsInFlight === 1, 'a wait');
    const t0 = Date.now();
    const [a, b] = [d.close(), d.close()];
    expect(a).toBe(b);
    await a;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(fake.endedWhileWaiting).toBe(false);
    expect(fake.buffersAllocated).toBe(1); // the batch buffer came from the API (native memory on Windows)
    expect(fake.buffersFreed).toHaveLength(1); // and was freed once, after the session ended
    expect(fake.calls.filter((c) => c === 'endSession' || c === 'closeAdapter')).toEqual([
      'endSession',
      'closeAdapter',
    ]);
    d.write(packet(1));
    expect(d.counters.txDropped).toBe(1);
  });
});

describe('openWintunDevice', () => {
  it('creates the adapter with a stable GUID, sets MTU on IPv4 and IPv6, starts the session', () => {
    const fake = new FakeWintun();
    const { routing } = fakeHost();
    const d = openWintunDevice(fake, routing, { name: 'ztun3', mtu: 1420 });
    open.push(d);
    expect(fake.calls).toEqual(['create ztun3 ztun 16', `startSession ${WINTUN_DEFAULT_RING_CAPACITY}`]);
    expect(routing.getInterface(FAKE_LUID, 4).mtu).toBe(1420);
    expect(routing.getInterface(FAKE_LUID, 6).mtu).toBe(1420);
    expect(routing.getInterface(FAKE_LUID, 4).useAutomaticMetric).toBe(true);
    expect(d.luid).toBe(FAKE_LUID);
  });

  it('metric: set on both families with automatic metric off', () => {
    const { routing } = fakeHost();
    const d = openWintunDevice(new FakeWintun(), routing, { metric: 0 });
    open.push(d);
    for (const fam of [4, 6] as const) {
      expect(routing.getInterface(FAKE_LUID, fam)).toMatchObject({ metric: 0, useAutomaticMetric: false });
    }
  });

  it('IPv6 disabled on the adapter is a warning, not a failure', () => {
    const fake = new FakeWintun();
    const host = fakeHost({ ipv6: false }).routing;
    const warnings: string[] = [];
    const d = openWintunDevice(fake, host, {
      logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    open.push(d);
    expect(warnings[0]).toContain('IPv6 MTU not set');
  });

  it('driver not running: DRIVER_NOT_LOADED naming wintun.net, and the adapter is closed again', () => {
    const fake = new FakeWintun();
    fake.driverVersion = 0;
    expect(() => openWintunDevice(fake, fakeHost().routing, {})).toThrow(
      expect.objectContaining({
        code: 'DRIVER_NOT_LOADED',
        message: expect.stringContaining('https://www.wintun.net/'),
      }),
    );
    expect(fake.calls.at(-1)).toBe('closeAdapter');
    expect(fake.calls).not.toContain('startSession 8388608');
  });

  it('bad options fail before any adapter exists', () => {
    const fake = new FakeWintun();
    expect(() => openWintunDevice(fake, fakeHost().routing, { ringCapacity: 3_000_000 })).toThrow(
      /power of two/,
    );
    expect(() => openWintunDevice(fake, fakeHost().routing, { name: 'x'.repeat(128) })).toThrow(TunError);
    expect(() => openWintunDevice(fake, fakeHost().routing, { mtu: 100 })).toThrow(TunError);
    expect(() => openWintunDevice(fake, fakeHost().routing, { guid: 'not-a-guid' })).toThrow(TunError);
    expect(fake.calls).toEqual([]);
  });

  it('create-or-open falls back to opening an existing adapter; create alone reports ALREADY_EXISTS', () => {
    const fake = new FakeWintun();
    fake.existingAdapters.add('ztun');
    expect(() => openWintunDevice(fake, fakeHost().routing, {})).toThrow(
      expect.objectContaining({ code: 'ALREADY_EXISTS' }),
    );
    const d = openWintunDevice(fake, fakeHost().routing, { mode: 'create-or-open' });
    open.push(d);
    expect(fake.calls).toContain('open ztun');
  });

  it('routes the driver log into the logger by level', () => {
    const fake = new FakeWintun();
    const lines: string[] = [];
    const log = (lvl: string) => (m: string) => lines.push(`${lvl} ${m}`);
    const d = openWintunDevice(fake, fakeHost().routing, {
      logger: { info: log('info'), warn: log('warn'), error: log('error') },
    });
    open.push(d);
    fake.logger!(0, 0n, 'Creating adapter');
    fake.logger!(1, 0n, 'slow');
    fake.logger!(2, 0n, 'failed');
    expect(lines.slice(-3)).toEqual([
      'info wintun: Creating adapter',
      'warn wintun: slow',
      'error wintun: failed',
    ]);
  });

  it('addresses: added after creation; removed again on close and when opening fails later', async () => {
    const fake = new FakeWintun();
    const { routing, ip } = fakeHost();
    const d = openWintunDevice(fake, routing, { addresses: ['198.18.0.1/15', 'fd00:7a74::1/64'] });
    expect(ip.addresses.size).toBe(2);
    await d.close();
    expect(ip.addresses.size).toBe(0);
    expect(fake.calls.slice(-2)).toEqual(['endSession', 'closeAdapter']);

    const failing = new FakeWintun();
    failing.startSession = () => {
      throw new TunError('WIN32', 'WintunStartSession', 'no');
    };
    expect(() => openWintunDevice(failing, routing, { addresses: ['198.18.0.1/15'] })).toThrow(/no/);
    expect(ip.addresses.size).toBe(0);
    expect(failing.calls.at(-1)).toBe('closeAdapter');
  });

  it('a bad CIDR in addresses fails before any adapter exists', () => {
    const fake = new FakeWintun();
    expect(() => openWintunDevice(fake, fakeHost().routing, { addresses: ['198.18.0.1/33'] })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(fake.calls).toEqual([]);
  });

  it(
    'openTun refuses to run off Windows with a typed error',
    skipUnless(process.platform !== 'win32', 'on Windows openTun opens a real adapter (windows.test.ts)'),
    async () => {
      const { openTun } = await import('../src/open.js');
      await expect(openTun()).rejects.toMatchObject({ code: 'UNSUPPORTED_PLATFORM' });
    },
  );
});
