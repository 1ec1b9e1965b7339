/**
 * iphlpapi.dll through koffi, rows passed as byte buffers (encoded by rows.ts). Windows only; loaded lazily.
 * Functions return NETIOAPI status codes (Win32 errors, 0 = NO_ERROR). WINAPI = __stdcall.
 *
 * Each function is bound on its first call, not up front: a DLL that lacks one export (Wine 8's iphlpapi has
 * no CreateIpForwardEntry2, CreateUnicastIpAddressEntry or Initialize*Entry) still serves every other call,
 * and the missing one is a TunError MISSING_EXPORT naming it instead of a raw koffi error for everything.
 */
import type { IKoffiLib } from 'koffi';
import { TunError } from './errors.js';
import type { IpHelperApi } from './iphlpapi-api.js';
import {
  MIB_IF_ROW2,
  MIB_IF_TABLE2,
  MIB_IPFORWARD_ROW2,
  MIB_IPFORWARD_TABLE2,
  MIB_UNICASTIPADDRESS_ROW,
  MIB_UNICASTIPADDRESS_TABLE,
} from './layout.js';

export const IPHLPAPI_PROTOTYPES = {
  InitializeUnicastIpAddressEntry: 'void __stdcall InitializeUnicastIpAddressEntry(uint8_t *Row)',
  CreateUnicastIpAddressEntry: 'uint32_t __stdcall CreateUnicastIpAddressEntry(const uint8_t *Row)',
  DeleteUnicastIpAddressEntry: 'uint32_t __stdcall DeleteUnicastIpAddressEntry(const uint8_t *Row)',
  GetUnicastIpAddressTable:
    'uint32_t __stdcall GetUnicastIpAddressTable(uint16_t Family, _Out_ void **Table)',
  InitializeIpForwardEntry: 'void __stdcall InitializeIpForwardEntry(uint8_t *Row)',
  CreateIpForwardEntry2: 'uint32_t __stdcall CreateIpForwardEntry2(const uint8_t *Row)',
  DeleteIpForwardEntry2: 'uint32_t __stdcall DeleteIpForwardEntry2(const uint8_t *Row)',
  GetIpForwardTable2: 'uint32_t __stdcall GetIpForwardTable2(uint16_t Family, _Out_ void **Table)',
  GetIfTable2: 'uint32_t __stdcall GetIfTable2(_Out_ void **Table)',
  FreeMibTable: 'void __stdcall FreeMibTable(void *Memory)',
  GetIpInterfaceEntry: 'uint32_t __stdcall GetIpInterfaceEntry(uint8_t *Row)',
  SetIpInterfaceEntry: 'uint32_t __stdcall SetIpInterfaceEntry(uint8_t *Row)',
  ConvertInterfaceLuidToIndex:
    'uint32_t __stdcall ConvertInterfaceLuidToIndex(const uint8_t *Luid, uint32_t *InterfaceIndex)',
  ConvertInterfaceIndexToLuid:
    'uint32_t __stdcall ConvertInterfaceIndexToLuid(uint32_t InterfaceIndex, uint8_t *Luid)',
} as const;

export type IpHelperFunction = keyof typeof IPHLPAPI_PROTOTYPES;

type Koffi = typeof import('koffi');
// biome-ignore lint/suspicious/noExplicitAny: koffi functions are untyped
type Fn = (...args: any[]) => any;

export async function loadIpHelperApi(): Promise<IpHelperApi> {
  if (process.platform !== 'win32') {
    throw new TunError(
      'UNSUPPORTED_PLATFORM',
      'load iphlpapi.dll',
      `IP Helper needs Windows; this is ${process.platform}`,
    );
  }
  const koffi: Koffi = (await import('koffi')).default;
  return createIpHelperApi(koffi, koffi.load('iphlpapi.dll'), 'iphlpapi.dll');
}

/**
 * Binds `name` from `lib` the first time it is called, then reuses the binding. A missing export throws
 * MISSING_EXPORT on every call (koffi reports it when binding, before any native code runs).
 */
export function lazyBinder(lib: IKoffiLib, libName: string): (name: IpHelperFunction) => Fn {
  const bound = new Map<IpHelperFunction, Fn>();
  return (name) => {
    let fn = bound.get(name);
    if (!fn) {
      try {
        fn = lib.func(IPHLPAPI_PROTOTYPES[name]) as Fn;
      } catch (err) {
        throw new TunError(
          'MISSING_EXPORT',
          name,
          `${libName} has no usable export ${name} (${(err as Error).message})`,
        );
      }
      bound.set(name, fn);
    }
    return fn;
  };
}

/** Copies the rows of a MIB_*_TABLE2 (ULONG NumEntries, rows from `tableOffset`) out, then frees it. */
function copyTable(
  koffi: Koffi,
  f: (name: IpHelperFunction) => Fn,
  table: unknown,
  tableOffset: number,
  rowSize: number,
): Uint8Array[] {
  try {
    const count = koffi.decode(table, 'uint32_t') as number;
    const bytes = new Uint8Array(koffi.view(table, tableOffset + count * rowSize));
    const rows: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const at = tableOffset + i * rowSize;
      rows.push(bytes.slice(at, at + rowSize));
    }
    return rows;
  } finally {
    f('FreeMibTable')(table);
  }
}

/** The IpHelperApi over a loaded library (split out so tests can bind a C stand-in on Linux). */
export function createIpHelperApi(koffi: Koffi, lib: IKoffiLib, libName = 'iphlpapi.dll'): IpHelperApi {
  const f = lazyBinder(lib, libName);
  const table = (status: number, out: unknown[], at: number, size: number) =>
    status !== 0 ? { status, rows: [] } : { status, rows: copyTable(koffi, f, out[0], at, size) };
  return {
    initializeUnicastIpAddressEntry: (row) => f('InitializeUnicastIpAddressEntry')(row),
    createUnicastIpAddressEntry: (row) => f('CreateUnicastIpAddressEntry')(row),
    deleteUnicastIpAddressEntry: (row) => f('DeleteUnicastIpAddressEntry')(row),
    getUnicastIpAddressTable(family) {
      const out: unknown[] = [null];
      const status = f('GetUnicastIpAddressTable')(family, out) as number;
      return table(status, out, MIB_UNICASTIPADDRESS_TABLE.Table, MIB_UNICASTIPADDRESS_ROW.size);
    },
    initializeIpForwardEntry: (row) => f('InitializeIpForwardEntry')(row),
    createIpForwardEntry2: (row) => f('CreateIpForwardEntry2')(row),
    deleteIpForwardEntry2: (row) => f('DeleteIpForwardEntry2')(row),
    getIpForwardTable2(family) {
      const out: unknown[] = [null];
      const status = f('GetIpForwardTable2')(family, out) as number;
      return table(status, out, MIB_IPFORWARD_TABLE2.Table, MIB_IPFORWARD_ROW2.size);
    },
    getIfTable2() {
      const out: unknown[] = [null];
      const status = f('GetIfTable2')(out) as number;
      return table(status, out, MIB_IF_TABLE2.Table, MIB_IF_ROW2.size);
    },
    getIpInterfaceEntry: (row) => f('GetIpInterfaceEntry')(row),
    setIpInterfaceEntry: (row) => f('SetIpInterfaceEntry')(row),
    convertInterfaceLuidToIndex(luid) {
      const key = new Uint8Array(8);
      new DataView(key.buffer).setBigUint64(0, luid, true);
      const index = new Uint32Array(1);
      const status = f('ConvertInterfaceLuidToIndex')(key, index) as number;
      return { status, index: index[0]! };
    },
    convertInterfaceIndexToLuid(index) {
      const out = new Uint8Array(8);
      const status = f('ConvertInterfaceIndexToLuid')(index, out) as number;
      return { status, luid: new DataView(out.buffer).getBigUint64(0, true) };
    },
  };
}
