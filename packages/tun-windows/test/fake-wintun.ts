/** A fake wintun.dll behind WintunApi: a receive queue, a bounded send ring, adapter removal, an event. */
import {
  ERROR_BUFFER_OVERFLOW,
  ERROR_HANDLE_EOF,
  ERROR_NO_MORE_ITEMS,
  WAIT_OBJECT_0,
  WAIT_TIMEOUT,
  WINTUN_MAX_IP_PACKET_SIZE,
} from '../src/constants.js';
import { type TunError, win32Error } from '../src/errors.js';
import { WindowsRouting } from '../src/routing.js';
import type {
  AdapterHandle,
  EventHandle,
  SessionHandle,
  WintunApi,
  WintunLogCallback,
} from '../src/wintun-api.js';
import { FakeIpHelper } from './fake-iphlpapi.js';

export class FakeWintun implements WintunApi {
  /** Packets the OS sends into the tunnel (what the device reads). */
  readonly rx: Uint8Array[] = [];
  /** Packets the device wrote. */
  readonly tx: Uint8Array[] = [];
  /** How many more packets the send ring takes before ERROR_BUFFER_OVERFLOW. */
  sendRingFree = Number.POSITIVE_INFINITY;
  /** Error returned by the next receive instead of a packet (e.g. ERROR_INVALID_DATA). */
  receiveFailure: number | undefined;
  gone = false;
  driverVersion = 0x0000_000e; // 0.14
  existingAdapters = new Set<string>();
  createFailure: TunError | undefined;
  calls: string[] = [];
  receiveCalls = 0;
  waitsStarted = 0;
  waitsInFlight = 0;
  endedWhileWaiting = false;
  logger: WintunLogCallback | null = null;
  private signal: (() => void) | undefined;

  buffersAllocated = 0;
  buffersFreed: Uint8Array[] = [];
  allocBuffer(size: number): Uint8Array {
    this.buffersAllocated++;
    return new Uint8Array(size);
  }
  freeBuffer(buffer: Uint8Array): void {
    this.buffersFreed.push(buffer);
  }

  inject(...packets: Uint8Array[]): void {
    this.rx.push(...packets);
    this.wake();
  }

  /** The adapter disappears (device removed in Device Manager, driver unloaded…). */
  remove(): void {
    this.gone = true;
    this.wake();
  }

  private wake(): void {
    const s = this.signal;
    this.signal = undefined;
    s?.();
  }

  createAdapter(name: string, tunnelType: string, guid?: Uint8Array): AdapterHandle {
    this.calls.push(`create ${name} ${tunnelType} ${guid?.length ?? 0}`);
    if (this.createFailure) throw this.createFailure;
    if (this.existingAdapters.has(name)) throw win32Error('WintunCreateAdapter', 183);
    this.existingAdapters.add(name);
    return { adapter: name } as unknown as AdapterHandle;
  }
  openAdapter(name: string): AdapterHandle {
    this.calls.push(`open ${name}`);
    if (!this.existingAdapters.has(name)) throw win32Error('WintunOpenAdapter', 2);
    return { adapter: name } as unknown as AdapterHandle;
  }
  closeAdapter(): void {
    this.calls.push('closeAdapter');
  }
  getAdapterLuid(): bigint {
    return FAKE_LUID;
  }
  getRunningDriverVersion(): { version: number; error: number } {
    return { version: this.driverVersion, error: this.driverVersion ? 0 : 2 };
  }
  setLogger(cb: WintunLogCallback | null): void {
    this.logger = cb;
  }
  startSession(_a: AdapterHandle, capacity: number): SessionHandle {
    this.calls.push(`startSession ${capacity}`);
    return { session: 1 } as unknown as SessionHandle;
  }
  endSession(): void {
    this.calls.push('endSession');
    if (this.waitsInFlight > 0) this.endedWhileWaiting = true;
  }
  getReadWaitEvent(): EventHandle {
    return { event: 1 } as unknown as EventHandle;
  }
  receivePacket(_s: SessionHandle, dst: Uint8Array, offset: number): number {
    this.receiveCalls++;
    if (dst.length - offset < WINTUN_MAX_IP_PACKET_SIZE) throw new Error('caller left too little room');
    if (this.gone) return -ERROR_HANDLE_EOF;
    if (this.receiveFailure !== undefined) return -this.receiveFailure;
    const p = this.rx.shift();
    if (!p) return -ERROR_NO_MORE_ITEMS;
    dst.set(p, offset);
    return p.length;
  }
  sendPacket(_s: SessionHandle, src: Uint8Array, offset: number, length: number): number {
    if (this.gone) return ERROR_HANDLE_EOF;
    if (this.sendRingFree <= 0) return ERROR_BUFFER_OVERFLOW;
    this.sendRingFree--;
    this.tx.push(src.slice(offset, offset + length));
    return 0;
  }
  waitForEvent(_e: EventHandle, timeoutMs: number): Promise<number> {
    this.waitsStarted++;
    this.waitsInFlight++;
    return new Promise((resolve) => {
      const done = (r: number) => {
        clearTimeout(timer);
        this.signal = undefined;
        this.waitsInFlight--;
        resolve(r);
      };
      const timer = setTimeout(() => done(WAIT_TIMEOUT), timeoutMs);
      if (this.rx.length > 0 || this.gone) done(WAIT_OBJECT_0);
      else this.signal = () => done(WAIT_OBJECT_0);
    });
  }
}

export const FAKE_LUID = 0x0035_0000_0500_0000n;

/** The IP Helper side of opening a device: the real WindowsRouting over a fake iphlpapi knowing the adapter. */
export function fakeHost(options: { ipv6?: boolean } = {}): { routing: WindowsRouting; ip: FakeIpHelper } {
  const ip = new FakeIpHelper();
  ip.addInterface(FAKE_LUID, 17, options.ipv6 ?? true);
  return { routing: new WindowsRouting(ip), ip };
}

export function packet(id: number, length = 60): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45;
  p[1] = id & 0xff;
  p[length - 1] = id >> 8;
  return p;
}
