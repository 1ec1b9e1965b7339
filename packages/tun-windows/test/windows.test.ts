/**
 * Real-Windows tests. They skip elsewhere with a printed reason. On Windows the device tests also need
 * Administrator and wintun.dll (ZTUN_WINTUN_DLL, or beside node.exe / in this package's folder); without them
 * they skip with the reason printed. Nothing here has been run on Windows yet (see README).
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PacketBatch } from '@ztun/packet';
import { skipNow, skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import type { TunError } from '../src/errors.js';
import { openTun, openWindowsRouting } from '../src/open.js';
import { isZtunRoute } from '../src/routing.js';

const onWindows = process.platform === 'win32';

describe(
  'on real Windows',
  skipUnless(
    onWindows,
    `real-Windows tests need Windows (this is ${process.platform}); verified here by layouts, fakes and a C stand-in library`,
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

    it('device: create, address, tagged route read back, a UDP datagram arrives as a packet, cleanup', async (ctx) => {
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
    });
  },
);
