/**
 * Tests against the real Windows DLLs. They skip off Windows with a printed reason. CI runs them on Windows
 * Node under Wine 8 (scripts/ci/wine-tests.sh), where iphlpapi's read-only calls are Wine's real
 * implementations and the write calls do not exist (so those tests skip there, saying so). On Windows the
 * device test also needs Administrator and wintun.dll (ZTUN_WINTUN_DLL, or beside node.exe / in this
 * package's folder). Nothing here has been run on real Windows yet (see README).
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PacketBatch } from '@ztun/packet';
import { skipNow, skipUnless, skipWhen } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { AF_UNSPEC } from '../src/constants.js';
import { findEgress } from '../src/egress.js';
import type { TunError } from '../src/errors.js';
import { decodeIfRow } from '../src/if-row.js';
import { loadIpHelperApi } from '../src/iphlpapi.windows.js';
import { openTun, openWindowsRouting } from '../src/open.js';
import { isZtunRoute } from '../src/routing.js';
import { decodeUnicastAddressRow } from '../src/rows.js';
import { wineLacks, wineVersion } from './wine.js';

const onWindows = process.platform === 'win32';

describe(
  'on Windows',
  skipUnless(
    onWindows,
    `Windows DLL tests need Windows or Windows Node under Wine (this is ${process.platform}); verified here by layouts, fakes and a C stand-in library`,
  ),
  () => {
    it('a missing wintun.dll is one DLL_NOT_FOUND error naming the path and wintun.net', async () => {
      const { loadWintunApi } = await import('../src/wintun.windows.js');
      const empty = mkdtempSync(path.join(tmpdir(), 'ztun-nodll-'));
      await expect(loadWintunApi({ dllPath: empty })).rejects.toMatchObject({
        code: 'DLL_NOT_FOUND',
        message: expect.stringContaining('https://www.wintun.net/'),
      });
    });

    it('GetIpForwardTable2 reads the system table and every row decodes', async () => {
      const routing = await openWindowsRouting();
      const routes = routing.listRoutes();
      expect(routes.length).toBeGreaterThan(0);
    });

    it('GetIfTable2, ConvertInterfaceIndexToLuid/LuidToIndex and GetUnicastIpAddressTable agree', async () => {
      const api = await loadIpHelperApi();
      const table = api.getIfTable2();
      expect(table.status).toBe(0);
      const ifs = table.rows.map(decodeIfRow);
      expect(ifs.length).toBeGreaterThan(0);
      for (const i of ifs) {
        expect(i.index).toBeGreaterThan(0);
        expect(i.alias.length).toBeGreaterThan(0);
        expect(api.convertInterfaceIndexToLuid(i.index)).toEqual({ status: 0, luid: i.luid });
        expect(api.convertInterfaceLuidToIndex(i.luid)).toEqual({ status: 0, index: i.index });
      }
      const addrs = api.getUnicastIpAddressTable(AF_UNSPEC);
      expect(addrs.status).toBe(0);
      const byLuid = new Map(ifs.map((i) => [i.luid, i.index]));
      for (const a of addrs.rows.map(decodeUnicastAddressRow)) {
        expect(byLuid.get(a.luid)).toBe(a.interfaceIndex); // every address sits on a listed interface
      }
      // every route's interface is a listed one too
      const routes = (await openWindowsRouting()).listRoutes();
      for (const r of routes) expect(byLuid.get(r.luid)).toBe(r.interfaceIndex);
    });

    it('findEgress picks an interface with a default route and a source address on it', async () => {
      const api = await loadIpHelperApi();
      const egress = findEgress(api, [4, 6]);
      const v4 = egress[4];
      // A machine with IPv4 connectivity (CI's, seen through Wine) has a default route.
      expect(v4).toBeDefined();
      const ifs = api.getIfTable2().rows.map(decodeIfRow);
      expect(ifs.find((i) => i.luid === v4!.luid)?.alias).toBe(v4!.alias);
      const addrs = api.getUnicastIpAddressTable(AF_UNSPEC).rows.map(decodeUnicastAddressRow);
      expect(addrs.some((a) => a.luid === v4!.luid && a.address.family === 4)).toBe(true);
      expect(v4!.source).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    });

    it(
      "Wine's iphlpapi lacks the write functions: each is a MISSING_EXPORT error naming it",
      skipUnless(wineVersion !== undefined, 'checks Wine 8 iphlpapi; real Windows has these functions'),
      async () => {
        const routing = await openWindowsRouting();
        expect(() => routing.addRoute({ luid: 1n, destination: '198.19.0.0/16' })).toThrow(
          expect.objectContaining({ code: 'MISSING_EXPORT', operation: 'InitializeIpForwardEntry' }),
        );
        expect(() => routing.addAddress(1n, '198.18.0.1/16')).toThrow(
          expect.objectContaining({ code: 'MISSING_EXPORT', operation: 'InitializeUnicastIpAddressEntry' }),
        );
      },
    );

    it(
      'device: create, address, tagged route read back, a UDP datagram arrives as a packet, cleanup',
      skipWhen(
        wineLacks(
          'no Wintun driver, and iphlpapi lacks CreateUnicastIpAddressEntry, CreateIpForwardEntry2 and SetIpInterfaceEntry',
        ),
      ),
      async (ctx) => {
        let device: Awaited<ReturnType<typeof openTun>>;
        try {
          device = await openTun({ name: 'ztun-test', dllPath: process.env.ZTUN_WINTUN_DLL, mtu: 1500 });
        } catch (err) {
          const code = (err as TunError).code;
          if (code === 'DLL_NOT_FOUND' || code === 'ACCESS_DENIED') {
            skipNow(
              ctx,
              `the Windows device test needs Administrator and wintun.dll: ${(err as Error).message}`,
            );
          }
          throw err;
        }
        const routing = await openWindowsRouting();
        try {
          expect(device.index).toBeGreaterThan(0);
          expect(routing.getInterface(device.luid, 4).mtu).toBe(1500);
          routing.addAddress(device.luid, '198.18.0.1/16');
          routing.addRoute({ luid: device.luid, destination: '198.19.0.0/16' });
          const ours = routing
            .listRoutes(4)
            .filter((r) => r.luid === device.luid && r.destination.bytes[1] === 19);
          expect(ours).toHaveLength(1);
          expect(isZtunRoute(ours[0]!)).toBe(true); // the tag survives a read-back

          const seen = new Promise<Uint8Array>((resolve) => {
            device.onBatch((b: PacketBatch) => {
              for (let i = 0; i < b.count; i++) {
                const p = b.data.subarray(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!);
                if (p[0]! >> 4 === 4 && p[9] === 17 && p[16] === 198 && p[17] === 19) resolve(p.slice());
              }
            });
          });
          const sock = createSocket('udp4');
          sock.send(Buffer.from('ztun'), 9, '198.19.0.5');
          const pkt = await seen;
          sock.close();
          expect(Buffer.from(pkt.subarray(28, 32)).toString()).toBe('ztun');

          expect(routing.removeLeftoverRoutes({ luid: device.luid })).toBe(1);
        } finally {
          await device.close();
        }
      },
    );
  },
);
