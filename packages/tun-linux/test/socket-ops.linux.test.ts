// linuxSockets through the addon (native/socket_ops.cc, issue 17 item 6): one native call makes a pinned
// socket (socket + SO_MARK + SO_BINDTODEVICE) and reads SO_ERROR; the options are read back with getsockopt(2)
// on a device in a namespace of this test; errors are SocketOptionErrors with the errno, on the addon's path
// and on koffi's (the fallback without the addon).
import { once } from 'node:events';
import net from 'node:net';
import { loadLinuxLibc } from '@ztun/routing-linux';
import { netnsSkipReason, runInNetns, sh, skipWhen, tryCommand } from '@ztun/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SocketOptionError } from '../src/errors.js';
import {
  linuxSockets,
  type NativeSocketOps,
  nativeSocketOps,
  useNativeSocketOps,
} from '../src/sockets.linux.js';

const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const SO_MARK = 36;

const lib = loadLinuxLibc();
const getsockopt = lib.func(
  'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)',
) as (fd: number, level: number, name: number, value: Uint8Array, len: number[]) => number;

function readMark(fd: number): number {
  const v = new Uint8Array(4);
  expect(getsockopt(fd, SOL_SOCKET, SO_MARK, v, [4])).toBe(0);
  return new DataView(v.buffer).getUint32(0, true);
}

function readDevice(fd: number): string {
  const v = new Uint8Array(16);
  const len = [16];
  expect(getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, v, len)).toBe(0);
  return new TextDecoder().decode(v.subarray(0, len[0]!)).replace(/\0.*$/, '');
}

function fdOf(sock: net.Socket): number {
  return (sock as unknown as { _handle: { fd: number } })._handle.fd;
}

/** The addon's calls, counted. */
function counted(real: NativeSocketOps) {
  const calls = { createPinned: 0, takeError: 0, lingerZero: 0 };
  const ops: NativeSocketOps = {
    createPinned: (...a) => {
      calls.createPinned++;
      return real.createPinned(...a);
    },
    takeError: (fd) => {
      calls.takeError++;
      return real.takeError(fd);
    },
    lingerZero: (fd) => {
      calls.lingerZero++;
      return real.lingerZero(fd);
    },
    strerror: (e) => real.strerror(e),
  };
  return { ops, calls };
}

const isRoot = process.getuid?.() === 0;
const nsName = `zcso${process.pid.toString(36)}`;
let nsReady = false;

describe('linuxSockets through the addon', () => {
  const real = nativeSocketOps();

  beforeAll(() => {
    if (!isRoot || netnsSkipReason()) return;
    sh('ip', ['netns', 'add', nsName]);
    sh('ip', ['-n', nsName, 'link', 'add', 'zcso0', 'type', 'veth', 'peer', 'name', 'zcso1']);
    nsReady = true;
  });
  afterAll(() => {
    if (nsReady) tryCommand('ip', ['netns', 'del', nsName]);
  });
  afterEach(() => useNativeSocketOps(undefined));

  it('loads the addon socket calls', () => {
    expect(real).not.toBeNull();
  });

  it(
    'makes a socket with SO_MARK and SO_BINDTODEVICE in one native call (read back with getsockopt)',
    skipWhen(isRoot ? netnsSkipReason() : 'SO_MARK and namespaces need root'),
    () => {
      const { ops, calls } = counted(real!);
      useNativeSocketOps(ops);
      for (const [family, kind] of [
        [4, 'tcp'],
        [6, 'udp'],
      ] as const) {
        const fd = runInNetns(nsName, () =>
          linuxSockets.createPinnedSocket(family, kind, { mark: 0xfeedbeef, bindToDevice: 'zcso0' }),
        );
        try {
          expect(readMark(fd)).toBe(0xfeedbeef);
          expect(readDevice(fd)).toBe('zcso0');
        } finally {
          linuxSockets.closeFd(fd);
        }
      }
      expect(calls.createPinned).toBe(2);
    },
  );

  for (const path of ['addon', 'koffi'] as const) {
    it(`reports a refused option as a SocketOptionError with its errno (${path})`, () => {
      if (path === 'koffi') useNativeSocketOps(null);
      const err = (() => {
        try {
          linuxSockets.createPinnedSocket(4, 'tcp', { bindToDevice: 'zcnosuchdev0' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(SocketOptionError);
      expect(err).toMatchObject({
        operation: 'setsockopt(SO_BINDTODEVICE=zcnosuchdev0)',
        code: 'ENODEV',
        errno: 19,
        message: 'setsockopt(SO_BINDTODEVICE=zcnosuchdev0): No such device',
      });
    });
  }

  it('refuses a device name longer than IFNAMSIZ as ENODEV, and bad arguments with a TypeError', () => {
    expect(() => linuxSockets.createPinnedSocket(4, 'udp', { bindToDevice: 'zc'.repeat(10) })).toThrow(
      expect.objectContaining({ code: 'ENODEV' }),
    );
    expect(() => real!.createPinned(5 as 4, false, -1, undefined)).toThrow(TypeError);
    expect(() => real!.takeError(-1)).toThrow(TypeError);
    expect(real!.takeError(0x7ffffff0)).toBe(-9); // EBADF
  });

  it('reads SO_ERROR and sets SO_LINGER through the addon: a peer reset is ECONNRESET', async () => {
    const { ops, calls } = counted(real!);
    useNativeSocketOps(ops);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const accepted = once(server, 'connection') as Promise<[net.Socket]>;
      const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      await once(client, 'connect');
      const [peer] = await accepted;
      expect(linuxSockets.takeSocketError(fdOf(client))).toBe(0);
      expect(linuxSockets.setLingerZero(fdOf(peer))).toBe(true);
      // Paused: the RST stays the socket's pending error for SO_ERROR to read.
      client.pause();
      client.on('error', () => {});
      peer.destroy();
      await new Promise<void>((resolve) => {
        const poll = () => {
          const e = linuxSockets.takeSocketError(fdOf(client));
          if (e === 104)
            resolve(); // ECONNRESET
          else setImmediate(poll);
        };
        poll();
      });
      client.destroy();
      expect(calls.lingerZero).toBe(1);
      expect(calls.takeError).toBeGreaterThanOrEqual(2);
    } finally {
      server.close();
    }
  });
});
