/**
 * iphlpapi.dll through koffi, rows passed as byte buffers (encoded by rows.ts). Windows only; loaded lazily.
 * Functions return NETIOAPI status codes (Win32 errors, 0 = NO_ERROR). WINAPI = __stdcall.
 */
import type { IKoffiLib } from 'koffi';
import { TunError } from './errors.js';
import type { IpHelperApi } from './iphlpapi-api.js';
import { MIB_IPFORWARD_ROW2, MIB_IPFORWARD_TABLE2 } from './layout.js';

export const IPHLPAPI_PROTOTYPES = {
  InitializeUnicastIpAddressEntry: 'void __stdcall InitializeUnicastIpAddressEntry(uint8_t *Row)',
  CreateUnicastIpAddressEntry: 'uint32_t __stdcall CreateUnicastIpAddressEntry(const uint8_t *Row)',
  DeleteUnicastIpAddressEntry: 'uint32_t __stdcall DeleteUnicastIpAddressEntry(const uint8_t *Row)',
  InitializeIpForwardEntry: 'void __stdcall InitializeIpForwardEntry(uint8_t *Row)',
  CreateIpForwardEntry2: 'uint32_t __stdcall CreateIpForwardEntry2(const uint8_t *Row)',
  DeleteIpForwardEntry2: 'uint32_t __stdcall DeleteIpForwardEntry2(const uint8_t *Row)',
  GetIpForwardTable2: 'uint32_t __stdcall GetIpForwardTable2(uint16_t Family, _Out_ void **Table)',
  FreeMibTable: 'void __stdcall FreeMibTable(void *Memory)',
  GetIpInterfaceEntry: 'uint32_t __stdcall GetIpInterfaceEntry(uint8_t *Row)',
  SetIpInterfaceEntry: 'uint32_t __stdcall SetIpInterfaceEntry(uint8_t *Row)',
  ConvertInterfaceLuidToIndex:
    'uint32_t __stdcall ConvertInterfaceLuidToIndex(const uint8_t *Luid, uint32_t *InterfaceIndex)',
} as const;

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
  return createIpHelperApi(koffi, koffi.load('iphlpapi.dll'));
}

/** The IpHelperApi over a loaded library (split out so tests can bind a C stand-in on Linux). */
export function createIpHelperApi(koffi: Koffi, lib: IKoffiLib): IpHelperApi {
  const f = {} as Record<keyof typeof IPHLPAPI_PROTOTYPES, Fn>;
  for (const k of Object.keys(IPHLPAPI_PROTOTYPES) as (keyof typeof IPHLPAPI_PROTOTYPES)[]) {
    f[k] = lib.func(IPHLPAPI_PROTOTYPES[k]) as Fn;
  }
  return {
    initializeUnicastIpAddressEntry: (row) => f.InitializeUnicastIpAddressEntry(row),
    createUnicastIpAddressEntry: (row) => f.CreateUnicastIpAddressEntry(row),
    deleteUnicastIpAddressEntry: (row) => f.DeleteUnicastIpAddressEntry(row),
    initializeIpForwardEntry: (row) => f.InitializeIpForwardEntry(row),
    createIpForwardEntry2: (row) => f.CreateIpForwardEntry2(row),
    deleteIpForwardEntry2: (row) => f.DeleteIpForwardEntry2(row),
    getIpForwardTable2(family) {
      const out: unknown[] = [null];
      const status = f.GetIpForwardTable2(family, out) as number;
      if (status !== 0) return { status, rows: [] };
      const table = out[0];
      try {
        const count = koffi.decode(table, 'uint32_t') as number;
        const bytes = new Uint8Array(
          koffi.view(table, MIB_IPFORWARD_TABLE2.Table + count * MIB_IPFORWARD_ROW2.size),
        );
        const rows: Uint8Array[] = [];
        for (let i = 0; i < count; i++) {
          const at = MIB_IPFORWARD_TABLE2.Table + i * MIB_IPFORWARD_ROW2.size;
          rows.push(bytes.slice(at, at + MIB_IPFORWARD_ROW2.size));
        }
        return { status, rows };
      } finally {
        f.FreeMibTable(table);
      }
    },
    getIpInterfaceEntry: (row) => f.GetIpInterfaceEntry(row),
    setIpInterfaceEntry: (row) => f.SetIpInterfaceEntry(row),
    convertInterfaceLuidToIndex(luid) {
      const key = new Uint8Array(8);
      new DataView(key.buffer).setBigUint64(0, luid, true);
      const index = new Uint32Array(1);
      const status = f.ConvertInterfaceLuidToIndex(key, index) as number;
      return { status, index: index[0]! };
    },
  };
}
