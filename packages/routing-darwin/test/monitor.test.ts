import { describe, expect, it } from 'vitest';
import {
  DarwinErrno,
  encodeRouteMessage,
  isDefaultRouteChange,
  type RouteEvent,
  RouteMonitor,
  type RouteSocket,
  RouteSyscallError,
  type RouteSystem,
  RTF_GATEWAY,
  RTF_IFSCOPE,
  RTF_STATIC,
  RTF_UP,
  RTM_ADD,
  RTM_DELETE,
  RTM_GET,
} from '../src/index.js';
import { concat, hex } from './vectors.js';

/** A socket that hands out scripted reads (bytes, an errno, or nothing) and records close(). */
function scriptedSystem(script: (Uint8Array | number)[]) {
  let closed = 0;
  const system: RouteSystem = {
    pid: 1,
    dumpRoutes: async () => new Uint8Array(0),
    async openRouteSocket(): Promise<RouteSocket> {
      return {
        async write() {},
        async read(buffer) {
          await new Promise((r) => setTimeout(r, 1));
          const next = script.shift();
          if (next === undefined) return 0;
          if (typeof next === 'number') throw new RouteSyscallError(next, 'read', 'fake');
          buffer.set(next);
          return next.length;
        },
        close() {
          closed++;
        },
      };
    },
  };
  return { system, closed: () => closed };
}

const defaultRoute = (type: number, flags = RTF_UP | RTF_GATEWAY | RTF_STATIC, index = 4) =>
  encodeRouteMessage({
    type,
    flags,
    index,
    addresses: {
      dst: { family: 'inet', address: '0.0.0.0' },
      gateway: { family: 'inet', address: '192.168.1.1' },
      netmask: { family: 'inet', address: '0.0.0.0' },
    },
  });

describe('RouteMonitor', () => {
  it('reports route, interface and overflow events, skips garbage, closes on stop', async () => {
    const hostRoute = encodeRouteMessage({
      type: RTM_ADD,
      flags: RTF_UP | 0x4,
      addresses: { dst: { family: 'inet', address: '10.1.1.1' }, gateway: { family: 'link', index: 9 } },
    });
    const { system, closed } = scriptedSystem([
      defaultRoute(RTM_DELETE),
      hex('01 02 03'),
      concat(hex('70 00 05 0e'), new Uint8Array(108)),
      DarwinErrno.ENOBUFS,
      hostRoute,
      defaultRoute(RTM_ADD, RTF_UP | RTF_GATEWAY | RTF_STATIC | RTF_IFSCOPE), // a scoped default
      defaultRoute(RTM_GET), // someone's `route get default`
      defaultRoute(RTM_ADD),
    ]);
    const events: RouteEvent[] = [];
    const monitor = new RouteMonitor(system, (e) => events.push(e), { pollMs: 5 });
    await monitor.start();
    while (events.length < 7) await new Promise((r) => setTimeout(r, 2));
    await monitor.stop();
    await monitor.stop();
    expect(closed()).toBe(1);
    expect(events.map((e) => e.kind)).toEqual([
      'route',
      'interface',
      'overflow',
      'route',
      'route',
      'route',
      'route',
    ]);
    expect(events.map(isDefaultRouteChange)).toEqual([true, false, false, false, false, false, true]);
    const first = events[0]!;
    expect(first.kind === 'route' && first.entry?.destination).toBe('0.0.0.0/0');
  });

  it('a hard read error goes to onError and ends the loop', async () => {
    const { system, closed } = scriptedSystem([DarwinErrno.EBADF]);
    const errors: Error[] = [];
    const monitor = new RouteMonitor(system, () => {}, { pollMs: 5, onError: (e) => errors.push(e) });
    await monitor.start();
    while (errors.length === 0) await new Promise((r) => setTimeout(r, 2));
    await monitor.stop();
    expect(errors.map((e) => (e as RouteSyscallError).code)).toEqual(['EBADF']);
    expect(closed()).toBe(1);
  });
});
