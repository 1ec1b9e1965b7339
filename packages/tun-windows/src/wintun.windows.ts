/**
 * wintun.dll through koffi. Loaded only by openTun() on Windows (dynamic import), so importing this package
 * on other systems never touches koffi or Windows DLLs. Signatures: wintun.h (WireGuard/wintun api/wintun.h,
 * reference §3.1). WINAPI = __stdcall (only meaningful on x86; x64/arm64 have one convention).
 */
import type { IKoffiCType, IKoffiLib, IKoffiRegisteredCallback } from 'koffi';
import { WAIT_FAILED } from './constants.js';
import { type DllSearch, dllNotFoundError, findWintunDll } from './dll.js';
import { TunError, win32Error } from './errors.js';
import { bindCopyFunctions, createNativeMemory } from './native-memory.js';
import type {
  AdapterHandle,
  EventHandle,
  SessionHandle,
  WintunApi,
  WintunLogCallback,
} from './wintun-api.js';

/**
 * Every wintun.dll function we bind (exports.def lists 14; we skip WintunDeleteDriver). Handles and packet
 * pointers travel as uintptr_t numbers, not koffi pointer objects: same registers on x64/arm64, exact below
 * 2^53 (user-space addresses are below 2^47), and far cheaper per call (see native-memory.ts).
 */
export const WINTUN_PROTOTYPES = {
  WintunCreateAdapter:
    'uintptr_t __stdcall WintunCreateAdapter(str16 Name, str16 TunnelType, const uint8_t *RequestedGUID)',
  WintunOpenAdapter: 'uintptr_t __stdcall WintunOpenAdapter(str16 Name)',
  WintunCloseAdapter: 'void __stdcall WintunCloseAdapter(uintptr_t Adapter)',
  WintunGetAdapterLUID: 'void __stdcall WintunGetAdapterLUID(uintptr_t Adapter, uint8_t *Luid)',
  WintunGetRunningDriverVersion: 'uint32_t __stdcall WintunGetRunningDriverVersion()',
  WintunSetLogger: 'void __stdcall WintunSetLogger(WINTUN_LOGGER_CALLBACK *NewLogger)',
  WintunStartSession: 'uintptr_t __stdcall WintunStartSession(uintptr_t Adapter, uint32_t Capacity)',
  WintunEndSession: 'void __stdcall WintunEndSession(uintptr_t Session)',
  WintunGetReadWaitEvent: 'uintptr_t __stdcall WintunGetReadWaitEvent(uintptr_t Session)',
  WintunReceivePacket: 'uintptr_t __stdcall WintunReceivePacket(uintptr_t Session, uint32_t *PacketSize)',
  WintunReleaseReceivePacket:
    'void __stdcall WintunReleaseReceivePacket(uintptr_t Session, uintptr_t Packet)',
  WintunAllocateSendPacket:
    'uintptr_t __stdcall WintunAllocateSendPacket(uintptr_t Session, uint32_t PacketSize)',
  WintunSendPacket: 'void __stdcall WintunSendPacket(uintptr_t Session, uintptr_t Packet)',
} as const;

/** WINTUN_LOGGER_CALLBACK (wintun.h:136-139); CALLBACK = __stdcall. */
export const WINTUN_LOGGER_PROTOTYPE =
  'void __stdcall WINTUN_LOGGER_CALLBACK(int Level, uint64_t Timestamp, str16 Message)';

export const KERNEL32_PROTOTYPES = {
  GetLastError: 'uint32_t __stdcall GetLastError()',
  WaitForSingleObject: 'uint32_t __stdcall WaitForSingleObject(uintptr_t Handle, uint32_t Milliseconds)',
} as const;

/** kernel32 RtlMoveMemory (MoveMemory): the copy between ring slots and JS buffers (native-memory.ts). */
export const COPY_SYMBOL = 'RtlMoveMemory';

type Koffi = typeof import('koffi');
// biome-ignore lint/suspicious/noExplicitAny: koffi functions are untyped
type Fn = ((...args: any[]) => any) & { async: (...args: any[]) => void };

let loggerProto: IKoffiCType | undefined;
/** koffi prototypes are process-global by name: define the callback type once. */
export function wintunLoggerProto(koffi: Koffi): IKoffiCType {
  loggerProto ??= koffi.proto(WINTUN_LOGGER_PROTOTYPE);
  return loggerProto;
}

function bind<T extends Record<string, string>>(lib: IKoffiLib, table: T): Record<keyof T, Fn> {
  const out = {} as Record<keyof T, Fn>;
  for (const key of Object.keys(table) as (keyof T)[]) out[key] = lib.func(table[key]!) as Fn;
  return out;
}

export interface LoadWintunOptions extends Pick<DllSearch, 'dllPath'> {}

/** Loads wintun.dll (see findWintunDll for where) and returns the WintunApi over it. Windows only. */
export async function loadWintunApi(
  options: LoadWintunOptions = {},
): Promise<WintunApi & { dllPath: string }> {
  if (process.platform !== 'win32') {
    throw new TunError(
      'UNSUPPORTED_PLATFORM',
      'load wintun.dll',
      `Wintun needs Windows; this is ${process.platform}`,
    );
  }
  const koffi: Koffi = (await import('koffi')).default;
  const dllPath = findWintunDll({ dllPath: options.dllPath });
  let lib: IKoffiLib;
  try {
    lib = koffi.load(dllPath);
  } catch (err) {
    throw dllNotFoundError(
      [dllPath],
      process.arch,
      `found but could not load it (${(err as Error).message})`,
    );
  }
  return { ...createWintunApi(koffi, lib, koffi.load('kernel32.dll')), dllPath };
}

/**
 * The WintunApi over loaded libraries: `wintun` exports the Wintun functions, `kernel32` GetLastError,
 * WaitForSingleObject and RtlMoveMemory. Split from loadWintunApi so tests on Linux can run these exact
 * bindings against a C stand-in library with the same exports.
 */
export function createWintunApi(koffi: Koffi, wintun: IKoffiLib, kernel32Lib: IKoffiLib): WintunApi {
  const kernel32 = bind(kernel32Lib, KERNEL32_PROTOTYPES);
  wintunLoggerProto(koffi);
  const w = bind(wintun, WINTUN_PROTOTYPES);
  const memory = createNativeMemory(koffi, bindCopyFunctions(kernel32Lib, COPY_SYMBOL));
  const sizeOut = new Uint32Array(1);
  const luidOut = new Uint8Array(8);
  let registeredLogger: IKoffiRegisteredCallback | undefined;
  const lastError = (): number => kernel32.GetLastError() as number;

  return {
    createAdapter(name, tunnelType, requestedGuid) {
      const h = w.WintunCreateAdapter(name, tunnelType, requestedGuid ?? null);
      if (!h) throw win32Error('WintunCreateAdapter', lastError());
      return h as AdapterHandle;
    },
    openAdapter(name) {
      const h = w.WintunOpenAdapter(name);
      if (!h) throw win32Error('WintunOpenAdapter', lastError());
      return h as AdapterHandle;
    },
    closeAdapter(adapter) {
      w.WintunCloseAdapter(adapter);
    },
    getAdapterLuid(adapter) {
      w.WintunGetAdapterLUID(adapter, luidOut);
      return new DataView(luidOut.buffer).getBigUint64(0, true);
    },
    getRunningDriverVersion() {
      const version = w.WintunGetRunningDriverVersion() as number;
      return { version, error: version === 0 ? lastError() : 0 };
    },
    setLogger(callback: WintunLogCallback | null) {
      const previous = registeredLogger;
      registeredLogger = undefined;
      if (callback) {
        // Wintun may call this from its own threads; koffi queues such calls onto the JS thread.
        registeredLogger = koffi.register(
          (level: number, timestamp: number | bigint, message: string) => {
            try {
              callback(level, BigInt(timestamp), message);
            } catch {
              // a logger must never throw into the driver
            }
          },
          koffi.pointer(wintunLoggerProto(koffi)),
        );
      }
      w.WintunSetLogger(registeredLogger ?? null);
      if (previous) koffi.unregister(previous);
    },
    startSession(adapter, capacity) {
      const h = w.WintunStartSession(adapter, capacity);
      if (!h) throw win32Error('WintunStartSession', lastError());
      return h as SessionHandle;
    },
    endSession(session) {
      w.WintunEndSession(session);
    },
    getReadWaitEvent(session) {
      return w.WintunGetReadWaitEvent(session) as EventHandle;
    },
    allocBuffer: (size) => memory.alloc(size),
    freeBuffer: (buffer) => memory.free(buffer),
    receivePacket(session, dst, offset) {
      const p = w.WintunReceivePacket(session, sizeOut) as number;
      if (!p) return -lastError();
      const size = sizeOut[0]!;
      // size ≤ 0xFFFF and the caller leaves that much room; the check only guards against a broken ring.
      if (size <= dst.length - offset) memory.copyIn(dst, offset, p, size);
      w.WintunReleaseReceivePacket(session, p);
      return size <= dst.length - offset ? size : 0;
    },
    sendPacket(session, src, offset, length) {
      const p = w.WintunAllocateSendPacket(session, length) as number;
      if (!p) return lastError();
      memory.copyOut(p, src, offset, length);
      w.WintunSendPacket(session, p);
      return 0;
    },
    waitForEvent(event, timeoutMs) {
      return new Promise((resolve) => {
        kernel32.WaitForSingleObject.async(event, timeoutMs, (err: unknown, res: number) => {
          resolve(err ? WAIT_FAILED : res);
        });
      });
    },
  };
}
