// loadDarwinSockets' logic over a fake libSystem (it cannot run off macOS): which calls, with which
// levels, options and bytes (xnu bsd/sys/socket.h, bsd/netinet/in.h, bsd/netinet6/in6.h), and the errors.
import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { type DarwinLibc, loadDarwinSockets, socketsOver } from '../src/sockets.darwin.js';

function fakeLibc(overrides: Partial<DarwinLibc> = {}) {
  const calls: string[] = [];
  const record = (line: string) => {
    calls.push(line);
    return 0;
  };
  const libc: DarwinLibc = {
    socket: (d, t, p) => record(`socket ${d} ${t} ${p}`) + 7,
    setsockopt: (fd, level, name, value, len) =>
      record(`setsockopt ${fd} ${level} ${name} [${[...value].join(',')}] ${len}`),
    bind: (fd, addr, len) => record(`bind ${fd} [${[...addr.subarray(0, 4)].join(',')}] ${len}`),
    getsockopt: (_fd, _level, _name, value) => {
      new DataView(value.buffer).setInt32(0, 54, true); // ECONNRESET on darwin
      return 0;
    },
    close: (fd) => record(`close ${fd}`),
    strerror: (e) => `error ${e}`,
    if_nametoindex: (name) => (name === 'en0' ? 4 : 0),
    errno: () => 1,
    ...overrides,
  };
  return { libc, calls };
}

describe('darwin StackSockets', () => {
  it('pins with IP_BOUND_IF / IPV6_BOUND_IF by name or index', () => {
    const { libc, calls } = fakeLibc();
    const s = socketsOver(libc);
    expect(s.createPinnedSocket(4, 'tcp', { bindToDevice: 'en0' })).toBe(7);
    expect(s.createPinnedSocket(6, 'udp', { boundInterfaceIndex: 9 })).toBe(7);
    expect(calls).toEqual([
      'socket 2 1 0',
      'setsockopt 7 0 25 [4,0,0,0] 4', // IPPROTO_IP, IP_BOUND_IF
      'socket 30 2 0',
      'setsockopt 7 41 125 [9,0,0,0] 4', // IPPROTO_IPV6, IPV6_BOUND_IF
    ]);
  });

  it('refuses SO_MARK and an unknown interface before any socket, and closes the fd when pinning fails', () => {
    const { libc, calls } = fakeLibc({ setsockopt: () => -1 });
    const s = socketsOver(libc);
    expect(() => s.createPinnedSocket(4, 'tcp', { mark: 1 })).toThrow(/mark \(SO_MARK\) is Linux-only/);
    expect(() => s.createPinnedSocket(4, 'tcp', { bindToDevice: 'nope0' })).toThrow(
      /no interface named nope0/,
    );
    expect(calls).toEqual([]);
    expect(() => s.createPinnedSocket(6, 'tcp', { boundInterfaceIndex: 3 })).toThrow(
      /^setsockopt\(IPV6_BOUND_IF=3\): error 1$/,
    );
    expect(calls).toEqual(['socket 30 1 0', 'close 7']);
  });

  it('binds to port 0 with a BSD sockaddr (sin_len, sin_family) and clears both reuse flags', () => {
    const { libc, calls } = fakeLibc();
    const s = socketsOver(libc);
    s.bindEphemeral(5, 4);
    s.bindEphemeral(5, 6);
    expect(s.clearReuse(5)).toBe(true);
    expect(s.setLingerZero(5)).toBe(true);
    expect(s.takeSocketError(5)).toBe(54);
    expect(calls).toEqual([
      'bind 5 [16,2,0,0] 16',
      'bind 5 [28,30,0,0] 28',
      'setsockopt 5 65535 4 [0,0,0,0] 4', // SOL_SOCKET, SO_REUSEADDR
      'setsockopt 5 65535 512 [0,0,0,0] 4', // SO_REUSEPORT
      'setsockopt 5 65535 128 [1,0,0,0,0,0,0,0] 8', // SO_LINGER {on, 0}
    ]);
  });

  it(
    'loadDarwinSockets rejects off macOS (libSystem missing)',
    skipUnless(process.platform !== 'darwin', 'on macOS libSystem loads'),
    async () => {
      await expect(loadDarwinSockets()).rejects.toThrow(
        /^darwin sockets: cannot load libSystem\.B\.dylib \(macOS only\): /,
      );
    },
  );
});
