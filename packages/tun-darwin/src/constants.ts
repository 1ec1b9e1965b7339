/**
 * macOS utun constants with their primary sources (xnu-11417.101.15, golang/sys zerrors_darwin);
 * shared/reference/darwin-windows-abi.md §2. Tests pin each value.
 */

/** PF_SYSTEM / AF_SYSTEM: 32 (xnu socket.h:425,536). Seed 001's macos_types.zig had AF_SYSTEM = 2. */
export const PF_SYSTEM = 32;
export const AF_SYSTEM = 32;
export const AF_INET = 2;
/** 30 on darwin: the utun header of an IPv6 packet is 00 00 00 1e. */
export const AF_INET6 = 30;
export const SOCK_DGRAM = 2;
export const SYSPROTO_EVENT = 1;
/** The socket protocol argument (xnu sys_domain.h:45). */
export const SYSPROTO_CONTROL = 2;
/** sockaddr_ctl.ss_sysaddr (xnu sys_domain.h:46). */
export const AF_SYS_CONTROL = 2;
export const MAX_KCTL_NAME = 96;
export const UTUN_CONTROL_NAME = 'com.apple.net.utun_control';
export const UTUN_OPT_FLAGS = 1;
export const UTUN_OPT_IFNAME = 2;
export const UTUN_OPT_MAX_PENDING_PACKETS = 16;
/** Default utun MTU (if_utun.c:276). */
export const UTUN_DEFAULT_MTU = 1500;
/** The protocol-family prefix on every utun read and write (if_utun.c:277). */
export const UTUN_HEADER_BYTES = 4;

export const IFNAMSIZ = 16;
export const IFF_UP = 0x1;
export const IFF_POINTOPOINT = 0x10;
export const IFF_RUNNING = 0x40;
export const IFF_MULTICAST = 0x8000;
export const IN6_IFF_NODAD = 0x20;
export const IN6_IFF_AUTOCONF = 0x40;
export const IN6_IFF_SECURED = 0x400;
export const ND6_INFINITE_LIFETIME = 0xffffffff;

// Struct sizes (64-bit darwin).
export const SIZEOF_CTL_INFO = 100;
export const SIZEOF_SOCKADDR_CTL = 32;
export const SIZEOF_IFREQ = 32;
export const SIZEOF_IFALIASREQ = 64;
export const SIZEOF_IN6_ADDRLIFETIME = 24;
export const SIZEOF_IN6_ALIASREQ = 128;
export const SIZEOF_IN6_IFREQ = 288;

// ioctl encoding (xnu bsd/sys/ioccom.h:74-97).
export const IOCPARM_MASK = 0x1fff;
export const IOC_VOID = 0x20000000;
export const IOC_OUT = 0x40000000;
export const IOC_IN = 0x80000000;
/** 0xc0000000 (xnu ioccom.h). `IOC_IN | IOC_OUT` alone is a negative int32 in JS, hence `>>> 0`. */
export const IOC_INOUT = (IOC_IN | IOC_OUT) >>> 0;

/** `_IOC(inout, group, num, len)` as an unsigned 32-bit number. */
export function ioc(inout: number, group: string, num: number, len: number): number {
  return (inout | ((len & IOCPARM_MASK) << 16) | (group.charCodeAt(0) << 8) | num) >>> 0;
}
export const iow = (group: string, num: number, len: number) => ioc(IOC_IN, group, num, len);
export const iowr = (group: string, num: number, len: number) => ioc(IOC_INOUT, group, num, len);

/** _IOWR('N', 3, struct ctl_info) = 0xc0644e03. Seed 001's "manually calculated" 0xC0694803 is wrong. */
export const CTLIOCGINFO = 0xc0644e03;
export const SIOCSIFADDR = 0x8020690c;
/** _IOW('i', 14, ifreq) = 0x8020690e. Seed 001 had 0x80206914. */
export const SIOCSIFDSTADDR = 0x8020690e;
export const SIOCSIFFLAGS = 0x80206910;
/** _IOWR('i', 17, ifreq) = 0xc0206911. Seed 001 had 0xC0206914. */
export const SIOCGIFFLAGS = 0xc0206911;
export const SIOCSIFNETMASK = 0x80206916;
export const SIOCDIFADDR = 0x80206919;
export const SIOCAIFADDR = 0x8040691a;
export const SIOCGIFMTU = 0xc0206933;
export const SIOCSIFMTU = 0x80206934;
export const SIOCAIFADDR_IN6 = 0x8080691a;
export const SIOCDIFADDR_IN6 = 0x81206919;
export const SIOCIFDESTROY = 0x80206979;

// fcntl / poll / errno (golang/sys zerrors_darwin; xnu bsd/sys/poll.h).
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const O_NONBLOCK = 0x4;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const EINTR = 4;
export const EAGAIN = 35;
export const ENOBUFS = 55;
