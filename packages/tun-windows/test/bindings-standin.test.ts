/**
 * The Windows bindings themselves (createWintunApi / createIpHelperApi: koffi prototypes, UTF-16 strings,
 * out parameters, handles and packet pointers as uintptr_t, RtlMoveMemory copies, WaitForSingleObject as a
 * koffi async call, the logger callback from a driver thread, GetIpForwardTable2 + FreeMibTable) run here
 * against test/fixtures/windows-standin.c: a Linux library with the same exports and C signatures, compiled
 * by this test. It proves the FFI layer, not Windows' behaviour.
 */
import type { PacketBatch } from '@ztun/packet';
import { skipWhen } from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunError } from '../src/errors.js';
import { createIpHelperApi } from '../src/iphlpapi.windows.js';
import { openWintunDevice } from '../src/open.js';
import { WindowsRouting } from '../src/routing.js';
import { createWintunApi } from '../src/wintun.windows.js';
import type { SessionHandle, WintunApi } from '../src/wintun-api.js';
import { FAKE_LUID, fakeHost, packet } from './fake-wintun.js';
import { removeStandins, standinIsDll, standinPath, standinSkipReason } from './standin.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: koffi functions are untyped
type Fn = (...args: any[]) => any;

describe('Windows bindings against a C stand-in library', skipWhen(standinSkipReason), () => {
  let lib: koffi.IKoffiLib;
  let api: WintunApi;
  const c: Record<string, Fn> = {};

  beforeAll(() => {
    lib = koffi.load(standinPath('full'));
    // As a Windows DLL the stand-in calls the real kernel32 (events, SetLastError): bind that one then.
    api = createWintunApi(koffi, lib, standinIsDll ? koffi.load('kernel32.dll') : lib);
    for (const proto of [
      'void FakeInject(uintptr_t s, const uint8_t *packet, uint32_t len)',
      'void FakeInjectLater(uintptr_t s, const uint8_t *packet, uint32_t len, uint32_t delayMs)',
      'void FakeRemoveAdapter(uintptr_t s)',
      'void FakeSetSendRingFree(uintptr_t s, int n)',
      'int FakeSentCount(uintptr_t s)',
      'uint32_t FakeSentCopy(uintptr_t s, int i, uint8_t *out)',
      'int FakeHeld(uintptr_t s)',
      'int FakeAdaptersClosed()',
      'int FakeSessionsEnded()',
      'uint32_t FakeAdapterName(uintptr_t a, uint16_t *out)',
      'int FakeAdapterGuid(uintptr_t a, uint8_t *out)',
      'void FakeLogFromThread(int level, str16 msg)',
      'int FakeAddressCount()',
      'int FakeTablesOutstanding()',
      'int FakeWaiters()',
    ]) {
      const name = proto.slice(proto.indexOf(' ') + 1, proto.indexOf('('));
      c[name] = lib.func(proto) as Fn;
    }
  });
  afterAll(removeStandins);

  it('WintunCreateAdapter gets UTF-16 names and the GUID bytes; the handle is a plain number', () => {
    const guid = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const adapter = api.createAdapter('ztun-Ω', 'ztun', guid);
    expect(typeof adapter).toBe('number');
    const name = new Uint16Array(128);
    const n = c.FakeAdapterName!(adapter, name) as number;
    expect(String.fromCharCode(...name.subarray(0, n))).toBe('ztun-Ω');
    const g = new Uint8Array(16);
    expect(c.FakeAdapterGuid!(adapter, g)).toBe(1);
    expect(g).toEqual(guid);
    expect(api.getAdapterLuid(adapter)).toBe(FAKE_LUID);
    expect(api.getRunningDriverVersion()).toEqual({ version: 14, error: 0 });
    api.closeAdapter(adapter);
  });

  it('NULL returns become typed errors through GetLastError', () => {
    expect(() => api.createAdapter('taken', 'ztun')).toThrow(
      expect.objectContaining({ code: 'ALREADY_EXISTS', win32Code: 183, operation: 'WintunCreateAdapter' }),
    );
    expect(() => api.openAdapter('nope')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', win32Code: 2 }),
    );
    const adapter = api.createAdapter('ztun-x', 'ztun');
    expect(() => api.startSession(adapter, 3000)).toThrow(expect.objectContaining({ win32Code: 87 }));
    api.closeAdapter(adapter);
  });

  it('the whole device: batches in, echo out, async wait woken by another thread, drops, adapter gone, close', async () => {
    let session = 0 as unknown as SessionHandle;
    const spied: WintunApi = {
      ...api,
      startSession: (a, cap) => {
        session = api.startSession(a, cap);
        return session;
      },
    };
    const closedBefore = c.FakeAdaptersClosed!() as number;
    const endedBefore = c.FakeSessionsEnded!() as number;
    const device = openWintunDevice(spied, fakeHost().routing, {
      name: 'ztun-dev',
      batchSize: 8,
      waitTimeoutMs: 50,
    });
    const errors: TunError[] = [];
    device.onError((e) => errors.push(e as TunError));
    const sizes: number[] = [];
    const received: Uint8Array[] = [];
    device.onBatch((b: PacketBatch) => {
      sizes.push(b.count);
      for (let i = 0; i < b.count; i++)
        received.push(b.data.slice(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!));
      device.writeBatch(b); // echo from the native batch buffer (integer-only copies)
    });

    const sent = Array.from({ length: 20 }, (_, i) => packet(i, 40 + i * 70));
    for (const p of sent) c.FakeInject!(session, p, p.length);
    await until(() => received.length === 20, '20 packets');
    expect(received).toEqual(sent);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8);
    expect(c.FakeHeld!(session)).toBe(0); // every received packet was released
    await until(() => (c.FakeSentCount!(session) as number) === 20, 'echo');
    const out = new Uint8Array(2000);
    for (let i = 0; i < 20; i++) {
      const n = c.FakeSentCopy!(session, i, out) as number;
      expect(out.slice(0, n)).toEqual(sent[i]);
    }

    // The ring is empty now: the device waits in WaitForSingleObject on a koffi worker; a driver thread wakes it.
    await until(() => (c.FakeWaiters!() as number) === 1, 'the device blocked in WaitForSingleObject');
    const late = packet(99, 333);
    c.FakeInjectLater!(session, late, late.length, 30);
    await until(() => received.length === 21, 'the packet injected from another thread');
    expect(received[20]).toEqual(late);

    c.FakeSetSendRingFree!(session, 0);
    device.write(packet(1));
    device.write(packet(2));
    expect(device.counters.txDropped).toBe(2);
    expect(errors).toEqual([]);

    c.FakeRemoveAdapter!(session);
    await until(() => errors.length === 1, 'ADAPTER_GONE');
    expect(errors[0]).toMatchObject({ code: 'ADAPTER_GONE', win32Code: 38 });
    expect(device.counters).toMatchObject({ rxPackets: 21, txPackets: 21 });

    await device.close();
    expect(c.FakeSessionsEnded!()).toBe(endedBefore + 1);
    expect(c.FakeAdaptersClosed!()).toBe(closedBefore + 1);
  });

  it('the driver logger is called from a driver thread and reaches JS with level, timestamp and text', async () => {
    const lines: [number, bigint, string][] = [];
    api.setLogger((level, ts, msg) => lines.push([level, ts, msg]));
    c.FakeLogFromThread!(1, 'hello Ω');
    await until(() => lines.length === 1, 'log line');
    expect(lines[0]).toEqual([1, 133000000000000000n, 'hello Ω']);
    api.setLogger(null);
    c.FakeLogFromThread!(2, 'dropped');
    await tick(50);
    expect(lines).toHaveLength(1);
  });

  it('IP Helper: addresses, tagged routes through GetIpForwardTable2 (+FreeMibTable), MTU with the clamp', () => {
    const routing = new WindowsRouting(createIpHelperApi(koffi, lib));
    expect(routing.interfaceIndex(FAKE_LUID)).toBe(17);
    expect(() => routing.interfaceIndex(1n)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));

    expect(routing.addAddress(FAKE_LUID, '198.18.0.1/15')).toBe(true);
    expect(routing.addAddress(FAKE_LUID, 'fd00:7a74::1/64')).toBe(true);
    expect(routing.addAddress(FAKE_LUID, '198.18.0.1/15')).toBe(false);
    expect(c.FakeAddressCount!()).toBe(2);

    routing.addRoute({ luid: FAKE_LUID, destination: '0.0.0.0/1' });
    routing.addRoute({ luid: FAKE_LUID, destination: '128.0.0.0/1', priority: 1 });
    routing.addRoute({ luid: FAKE_LUID, destination: '2000::/3', nextHop: 'fe80::1' });
    expect(() => routing.addRoute({ luid: FAKE_LUID, destination: '0.0.0.0/1' })).toThrow(
      expect.objectContaining({ code: 'ALREADY_EXISTS', win32Code: 5010 }),
    );
    const routes = routing.listRoutes();
    expect(routes).toHaveLength(3);
    expect(routes.every((r) => r.ztun && r.interfaceIndex === 17 && r.luid === FAKE_LUID)).toBe(true);
    expect(routing.listRoutes(6)).toHaveLength(1);
    expect(c.FakeTablesOutstanding!()).toBe(0);
    expect(routing.removeLeftoverRoutes()).toBe(3);
    expect(routing.listRoutes()).toHaveLength(0);

    routing.setInterface(FAKE_LUID, 4, { mtu: 1400, metric: 5 });
    routing.setInterface(FAKE_LUID, 6, { mtu: 1280 });
    expect(routing.getInterface(FAKE_LUID, 4)).toMatchObject({
      mtu: 1400,
      metric: 5,
      useAutomaticMetric: false,
    });
    expect(routing.getInterface(FAKE_LUID, 6)).toMatchObject({ mtu: 1280, sitePrefixLength: 128 });
    expect(routing.deleteAddress(FAKE_LUID, '198.18.0.1/15')).toBe(true);
    expect(c.FakeAddressCount!()).toBe(1);
  });
});
