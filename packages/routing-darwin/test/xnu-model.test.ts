// RouteClient against @ztun/testkit's simulated XNU (issue 13 item 2): an independent model of
// route_output — its own codec, scoped lookups, errors from write() and in rtm_errno, a copy to every
// route socket with decoys interleaved, ENOBUFS, NET_RT_DUMP with kernel-compact netmasks. Runs anywhere.
import { SimulatedXnu, XnuErrno } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  RouteClient,
  RouteExistsError,
  RouteNotFoundError,
  RoutePermissionError,
  routeErrorFromErrno,
} from '../src/index.js';

function mac() {
  const xnu = new SimulatedXnu({ syscallError: (e, s, o) => routeErrorFromErrno(e, s, o) });
  const en0 = xnu.addInterface('en0', { cidr: '192.168.1.20/24' });
  const utun = xnu.addInterface('utun4', { cidr: '198.18.0.1/15' });
  xnu.setDefault(4, '192.168.1.1', 'en0', { alsoScoped: false });
  const proc = xnu.process(501, true);
  const sleeps: number[] = [];
  const client = new RouteClient(proc, { sleep: async (ms) => void sleeps.push(ms) });
  return { xnu, en0, utun, proc, client, sleeps };
}

describe('RouteClient against the simulated XNU', () => {
  it('a scoped default is found only by lookups scoped to its interface; unscoped ones take the utun split', async () => {
    const { xnu, en0, utun, client } = mac();
    expect(
      (await client.addScopedDefault({ family: 'inet', interfaceIndex: en0, gateway: '192.168.1.1' }))
        .created,
    ).toBe(true);
    await client.addRoute({ destination: '0.0.0.0/1', interfaceIndex: utun, tag: true });
    await client.addRoute({ destination: '128.0.0.0/1', interfaceIndex: utun, tag: true });
    expect(xnu.lookup('93.184.216.34')?.ifIndex).toBe(utun);
    expect(xnu.lookup('93.184.216.34', 'en0')).toMatchObject({ ifIndex: en0, scope: en0, prefixLength: 0 });
    // RTM_GET with RTF_IFSCOPE sees it too; the unscoped GET of the default still names configd's route.
    expect(await client.getRoute('0.0.0.0/0', { scopedTo: en0 })).toMatchObject({
      scoped: true,
      tagged: true,
      interfaceName: 'en0',
    });
    expect(await client.getRoute('0.0.0.0/0')).toMatchObject({
      scoped: false,
      tagged: false,
      interfaceIndex: en0,
    });
  });

  it('EEXIST, ESRCH, EPERM come from write() as typed errors (decoys with our seq or pid never fool it)', async () => {
    const { xnu, client, utun } = mac();
    expect(xnu.noise).toBe(true);
    await client.addRoute({ destination: '10.0.0.0/8', interfaceIndex: utun });
    await expect(client.addRoute({ destination: '10.0.0.0/8', interfaceIndex: utun })).rejects.toBeInstanceOf(
      RouteExistsError,
    );
    await expect(
      client.deleteRoute({ destination: '10.9.0.0/16', interfaceIndex: utun }),
    ).rejects.toBeInstanceOf(RouteNotFoundError);
    const user = new RouteClient(xnu.process(502, false));
    await expect(user.addRoute({ destination: '10.1.0.0/16', interfaceIndex: utun })).rejects.toBeInstanceOf(
      RoutePermissionError,
    );
    expect(await user.getRoute('10.1.2.3')).toMatchObject({
      destination: '10.0.0.0/8',
      interfaceIndex: utun,
    }); // RTM_GET needs no root
    expect(xnu.written.map((w) => w.errnoReturned)).toEqual([
      0,
      XnuErrno.EEXIST,
      XnuErrno.ESRCH,
      XnuErrno.EPERM,
      0,
    ]);
  });

  it('ENOBUFS bursts from write() are retried with backoff; an overflowed socket reports ENOBUFS on its next read', async () => {
    const { xnu, client, utun, sleeps } = mac();
    xnu.failWrites(3);
    const r = await client.addRoute({ destination: '10.0.0.0/8', interfaceIndex: utun });
    expect(r.attempts).toBe(4);
    expect(sleeps).toEqual([50, 100, 200]);
    expect(xnu.lookup('10.1.1.1')?.ifIndex).toBe(utun);
    const monitorSide = await xnu.process(503).openRouteSocket();
    xnu.overflowAll();
    await expect(monitorSide.read(new Uint8Array(2048), 10)).rejects.toMatchObject({
      errno: XnuErrno.ENOBUFS,
    });
  });

  it('NET_RT_DUMP (compact netmasks) lists the table; flushScopedDefaults removes only tagged scoped defaults', async () => {
    const { xnu, en0, client } = mac();
    xnu.setDefault(4, '192.168.1.1', 'en0'); // IPMonitor's own untagged scoped default
    const before = xnu.snapshot();
    await client
      .addRoute({
        destination: '0.0.0.0/0',
        gateway: '192.168.1.1',
        interfaceIndex: en0,
        scoped: true,
        tag: true,
      })
      .catch(() => {});
    const en5 = xnu.addInterface('en5', { cidr: '10.77.0.2/24' });
    await client.addScopedDefault({ family: 'inet', interfaceIndex: en5, gateway: '10.77.0.1' });
    const listed = await client.listRoutes('inet');
    expect(listed.map((e) => e.destination).sort()).toEqual(
      xnu.table.routes.map((r) => `${r.dst.join('.')}/${r.prefixLength}`).sort(),
    );
    expect(await client.flushScopedDefaults()).toBe(1);
    expect(xnu.snapshot()).toEqual(
      [...before, ...xnu.snapshot().filter((l) => l.includes('10.77.0.0/24'))].sort(),
    );
  });
});
