import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { ioc, iow, iowr } from '../src/index.js';

const SIZEOF_IFREQ = 32;

describe('utun constants pinned to XNU (reference §2.1)', () => {
  it('families, socket type, kernel-control protocol', () => {
    expect([T.PF_SYSTEM, T.AF_SYSTEM, T.AF_INET, T.AF_INET6, T.SOCK_DGRAM]).toEqual([32, 32, 2, 30, 2]);
    expect([T.SYSPROTO_EVENT, T.SYSPROTO_CONTROL, T.AF_SYS_CONTROL, T.MAX_KCTL_NAME]).toEqual([1, 2, 2, 96]);
    // Seed 001's macos_types.zig declared AF_SYSTEM = 2 (and "sc_family = AF_SYSTEM // = 2"): XNU's
    // AF_SYSTEM is 32 (socket.h:425); 2 is AF_SYS_CONTROL, which goes in ss_sysaddr, not sc_family.
    expect(T.AF_SYSTEM).not.toBe(2);
  });

  it('utun options, name, MTU, header', () => {
    expect(T.UTUN_CONTROL_NAME).toBe('com.apple.net.utun_control');
    expect([T.UTUN_OPT_FLAGS, T.UTUN_OPT_IFNAME, T.UTUN_OPT_MAX_PENDING_PACKETS]).toEqual([1, 2, 16]);
    expect([T.UTUN_DEFAULT_MTU, T.UTUN_HEADER_BYTES, T.IFNAMSIZ]).toEqual([1500, 4, 16]);
  });

  it('interface flags and IPv6 address flags', () => {
    expect([T.IFF_UP, T.IFF_POINTOPOINT, T.IFF_RUNNING, T.IFF_MULTICAST]).toEqual([0x1, 0x10, 0x40, 0x8000]);
    expect([T.IN6_IFF_NODAD, T.IN6_IFF_AUTOCONF, T.IN6_IFF_SECURED, T.ND6_INFINITE_LIFETIME]).toEqual([
      0x20, 0x40, 0x400, 0xffffffff,
    ]);
  });

  it('fcntl, poll and errno values', () => {
    expect([T.F_GETFL, T.F_SETFL, T.F_SETFD, T.FD_CLOEXEC, T.O_NONBLOCK]).toEqual([3, 4, 2, 1, 4]);
    expect([T.POLLIN, T.POLLOUT, T.POLLERR, T.POLLHUP, T.POLLNVAL]).toEqual([1, 4, 8, 0x10, 0x20]);
    expect([T.EINTR, T.EAGAIN, T.ENOBUFS]).toEqual([4, 35, 55]);
  });

  it('struct sizes', () => {
    expect([
      T.SIZEOF_CTL_INFO,
      T.SIZEOF_SOCKADDR_CTL,
      T.SIZEOF_IFREQ,
      T.SIZEOF_IFALIASREQ,
      T.SIZEOF_IN6_ADDRLIFETIME,
      T.SIZEOF_IN6_ALIASREQ,
      T.SIZEOF_IN6_IFREQ,
    ]).toEqual([100, 32, 32, 64, 24, 128, 288]);
  });
});

describe('ioctl numbers: the table values, and recomputed from _IOC (xnu ioccom.h)', () => {
  it('IOC_INOUT is the unsigned 0xc0000000 of ioccom.h (not the negative int32 of IOC_IN | IOC_OUT)', () => {
    expect(T.IOC_INOUT).toBe(0xc0000000);
    expect(T.IOC_INOUT).toBeGreaterThan(0);
    expect(T.IOC_INOUT).toBe(T.IOC_IN + T.IOC_OUT);
  });

  it('matches every definition', () => {
    const table: [string, number, number][] = [
      ['CTLIOCGINFO', T.CTLIOCGINFO, iowr('N', 3, T.SIZEOF_CTL_INFO)],
      ['SIOCSIFADDR', T.SIOCSIFADDR, iow('i', 12, SIZEOF_IFREQ)],
      ['SIOCSIFDSTADDR', T.SIOCSIFDSTADDR, iow('i', 14, SIZEOF_IFREQ)],
      ['SIOCSIFFLAGS', T.SIOCSIFFLAGS, iow('i', 16, SIZEOF_IFREQ)],
      ['SIOCGIFFLAGS', T.SIOCGIFFLAGS, iowr('i', 17, SIZEOF_IFREQ)],
      ['SIOCSIFNETMASK', T.SIOCSIFNETMASK, iow('i', 22, SIZEOF_IFREQ)],
      ['SIOCDIFADDR', T.SIOCDIFADDR, iow('i', 25, SIZEOF_IFREQ)],
      ['SIOCAIFADDR', T.SIOCAIFADDR, iow('i', 26, T.SIZEOF_IFALIASREQ)],
      ['SIOCGIFMTU', T.SIOCGIFMTU, iowr('i', 51, SIZEOF_IFREQ)],
      ['SIOCSIFMTU', T.SIOCSIFMTU, iow('i', 52, SIZEOF_IFREQ)],
      ['SIOCAIFADDR_IN6', T.SIOCAIFADDR_IN6, iow('i', 26, T.SIZEOF_IN6_ALIASREQ)],
      ['SIOCDIFADDR_IN6', T.SIOCDIFADDR_IN6, iow('i', 25, T.SIZEOF_IN6_IFREQ)],
      ['SIOCIFDESTROY', T.SIOCIFDESTROY, iow('i', 121, SIZEOF_IFREQ)],
    ];
    for (const [name, value, computed] of table) expect([name, value]).toEqual([name, computed]);
    expect({
      CTLIOCGINFO: T.CTLIOCGINFO,
      SIOCSIFADDR: T.SIOCSIFADDR,
      SIOCSIFDSTADDR: T.SIOCSIFDSTADDR,
      SIOCSIFFLAGS: T.SIOCSIFFLAGS,
      SIOCGIFFLAGS: T.SIOCGIFFLAGS,
      SIOCSIFNETMASK: T.SIOCSIFNETMASK,
      SIOCDIFADDR: T.SIOCDIFADDR,
      SIOCAIFADDR: T.SIOCAIFADDR,
      SIOCGIFMTU: T.SIOCGIFMTU,
      SIOCSIFMTU: T.SIOCSIFMTU,
      SIOCAIFADDR_IN6: T.SIOCAIFADDR_IN6,
      SIOCDIFADDR_IN6: T.SIOCDIFADDR_IN6,
      SIOCIFDESTROY: T.SIOCIFDESTROY,
    }).toEqual({
      CTLIOCGINFO: 0xc0644e03,
      SIOCSIFADDR: 0x8020690c,
      SIOCSIFDSTADDR: 0x8020690e,
      SIOCSIFFLAGS: 0x80206910,
      SIOCGIFFLAGS: 0xc0206911,
      SIOCSIFNETMASK: 0x80206916,
      SIOCDIFADDR: 0x80206919,
      SIOCAIFADDR: 0x8040691a,
      SIOCGIFMTU: 0xc0206933,
      SIOCSIFMTU: 0x80206934,
      SIOCAIFADDR_IN6: 0x8080691a,
      SIOCDIFADDR_IN6: 0x81206919,
      SIOCIFDESTROY: 0x80206979,
    });
    expect(T.SIOCAIFADDR_IN6).toBe(2155899162); // sing-tun's decimal literal
    expect(ioc(T.IOC_VOID, 'i', 1, 0)).toBe(0x20006901);
  });

  it('does not repeat the seed values that disagree with XNU', () => {
    // Seed 001 "Common failure 1": 0xC0694803 was its own wrong calculation; XNU agrees with its fix.
    expect(T.CTLIOCGINFO).not.toBe(0xc0694803);
    // Seed 001 macos_types.zig: SIOCGIFFLAGS = 0xC0206914 and SIOCSIFDSTADDR = 0x80206914. Both wrong:
    // 0x..14 is ioctl number 20; XNU has SIOCGIFFLAGS = _IOWR('i', 17) and SIOCSIFDSTADDR = _IOW('i', 14).
    expect(T.SIOCGIFFLAGS).not.toBe(0xc0206914);
    expect(T.SIOCSIFDSTADDR).not.toBe(0x80206914);
    // golang/sys IfreqMTU is 20 bytes, but the ioctl copies 32: our ifreq buffers are 32 (reference §5.9).
    expect((T.SIOCSIFMTU >>> 16) & T.IOCPARM_MASK).toBe(32);
  });
});
