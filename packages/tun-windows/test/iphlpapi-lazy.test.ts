/**
 * createIpHelperApi binds each iphlpapi function on first use: against a library that lacks the exports Wine 8
 * lacks (the stand-in built with STANDIN_WINE_IPHLPAPI), the read-only calls work and a missing function is a
 * TunError MISSING_EXPORT naming it — not a raw koffi error from createIpHelperApi for everything.
 */
import { skipWhen } from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TunError } from '../src/errors.js';
import { decodeIfRow } from '../src/if-row.js';
import { createIpHelperApi } from '../src/iphlpapi.windows.js';
import { WindowsRouting } from '../src/routing.js';
import { removeStandins, standinPath, standinSkipReason } from './standin.js';

const LUID = 0x0035000005000000n;

describe('iphlpapi functions bind lazily', skipWhen(standinSkipReason), () => {
  let lib: koffi.IKoffiLib;
  beforeAll(() => {
    lib = koffi.load(standinPath('wine-iphlpapi'));
  });
  afterAll(removeStandins);

  it('a library without the write functions still serves the read-only ones', () => {
    const api = createIpHelperApi(koffi, lib, 'iphlpapi.dll');
    const routing = new WindowsRouting(api);
    expect(routing.listRoutes()).toEqual([]);
    expect(routing.interfaceIndex(LUID)).toBe(17);
    expect(api.convertInterfaceIndexToLuid(17)).toEqual({ status: 0, luid: LUID });
    const ifs = api.getIfTable2();
    expect(ifs.status).toBe(0);
    expect(ifs.rows.map(decodeIfRow)).toMatchObject([{ luid: LUID, index: 17, alias: 'ztun-standin' }]);
    expect(api.getUnicastIpAddressTable(0)).toEqual({ status: 0, rows: [] });
  });

  it('a missing export is one typed MISSING_EXPORT error naming it, on every call', () => {
    const routing = new WindowsRouting(createIpHelperApi(koffi, lib, 'iphlpapi.dll'));
    for (const [call, missing] of [
      [() => routing.addAddress(LUID, '198.18.0.1/15'), 'InitializeUnicastIpAddressEntry'],
      [() => routing.addRoute({ luid: LUID, destination: '0.0.0.0/1' }), 'InitializeIpForwardEntry'],
      [() => routing.setInterface(LUID, 4, { mtu: 1400 }), 'GetIpInterfaceEntry'],
      [() => routing.addAddress(LUID, '198.18.0.1/15'), 'InitializeUnicastIpAddressEntry'],
    ] as const) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TunError);
      expect(err).toMatchObject({ code: 'MISSING_EXPORT', operation: missing });
      expect((err as Error).message).toContain(`iphlpapi.dll has no usable export ${missing}`);
    }
  });
});
