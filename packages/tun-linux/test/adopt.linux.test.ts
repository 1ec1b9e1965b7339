import { readdirSync } from 'node:fs';
import { createNetns, type Netns, netnsSkipReason, runInNetns, skipWhen } from '@ztun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeIfreq, IFF_NO_PI, IFF_TAP, IFF_TUN, IFF_VNET_HDR, TUNSETIFF } from '../src/ifreq.js';
import { adoptTunSync, TunError, tunFdInfo } from '../src/index.js';
import { getLibc, O_CLOEXEC, O_RDWR } from '../src/libc.linux.js';
import { echoResponder, finished } from './echo.js';

// Issue 16 item 2: adopting a TUN fd someone else opened. "Someone else" is this test: it opens
// /dev/net/tun and does TUNSETIFF itself (koffi), configures the link with ip(8), then hands the fd over.

const skip = netnsSkipReason();
const fdCount = () => readdirSync('/proc/self/fd').length;

describe('adoptTunSync in a network namespace', skipWhen(skip), () => {
  let ns: Netns;
  const libc = () => getLibc();

  /** The "parent": an fd of /dev/net/tun, attached to `name` with `flags` when given. */
  const openRaw = (name?: string, flags = IFF_TUN | IFF_NO_PI): number =>
    runInNetns(ns, () => {
      const fd = libc().open('/dev/net/tun', O_RDWR | O_CLOEXEC);
      if (fd < 0) throw new Error('open /dev/net/tun failed');
      if (name !== undefined && libc().ioctl(fd, TUNSETIFF, 'uint8_t *', encodeIfreq(name, flags)) < 0) {
        libc().close(fd);
        throw new Error('TUNSETIFF failed');
      }
      return fd;
    });

  beforeAll(() => {
    ns = createNetns('pd');
  });
  afterAll(async () => {
    await ns?.dispose();
  });

  for (const vnet of [false, true]) {
    it(`reads name, index and MTU from the fd, carries packets, changes nothing, and leaves the device to its owner${vnet ? ' (IFF_VNET_HDR)' : ''}`, async () => {
      const name = vnet ? 'pdadv0' : 'pdad0';
      const parent = openRaw(name, IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
      try {
        ns.ip('link', 'set', name, 'mtu', '1400');
        ns.ip('addr', 'add', '10.240.0.1/24', 'dev', name);
        ns.ip('link', 'set', name, 'up');
        const linkBefore = ns.ip('-d', 'link', 'show', name);
        const addrBefore = ns.ip('addr', 'show', name);
        const before = fdCount();
        const info = tunFdInfo(parent);
        expect(info).toMatchObject({ name, vnetHeader: vnet });
        const dev = runInNetns(ns, () => adoptTunSync({ fd: parent }));
        expect(dev.name).toBe(name);
        expect(dev.mtu).toBe(1400);
        expect(dev.index).toBe(Number(/^(\d+):/.exec(linkBefore)![1]));
        expect(dev.fd).not.toBe(parent);
        const echo = echoResponder(64);
        dev.onBatch((batch) => echo.handle(batch, (b) => dev.writeBatch(b)));
        const ping = ns.spawn('ping', ['-c', '5', '-i', '0.05', '-W', '2', '10.240.0.7']);
        expect(await finished(ping)).toBe(0);
        expect(echo.answered.v4).toBe(5);
        await dev.close();
        expect(fdCount()).toBe(before);
        // The owner's fd still holds the device, unchanged.
        expect(ns.ip('-d', 'link', 'show', name)).toBe(linkBefore);
        expect(ns.ip('addr', 'show', name)).toBe(addrBefore);
      } finally {
        libc().close(parent);
      }
      expect(ns.tryExec('ip', ['link', 'show', name]).status).not.toBe(0);
    });
  }

  it('refuses what it cannot adopt with a TunError naming why, and leaks no fd', () => {
    const before = fdCount();
    const cases: [() => number, RegExp][] = [
      [() => openRaw('pdtap0', IFF_TAP | IFF_NO_PI), /a TAP device/],
      [() => openRaw(), /attached to no device/],
      [() => libc().open('/proc/self/status', O_RDWR & 0), /not a \/dev\/net\/tun descriptor/],
    ];
    for (const [make, why] of cases) {
      const fd = make();
      try {
        expect(() => runInNetns(ns, () => adoptTunSync({ fd }))).toThrow(why);
        expect(() => tunFdInfo(fd)).toThrow(TunError);
      } finally {
        libc().close(fd);
      }
    }
    expect(() => adoptTunSync({ fd: 987654 })).toThrow(/fd 987654 is not open/);
    expect(() => adoptTunSync({ fd: -1 })).toThrow(TunError);
    expect(fdCount()).toBe(before);
  });
});
