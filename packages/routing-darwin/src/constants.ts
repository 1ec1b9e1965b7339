/**
 * macOS (XNU) constants for the routing socket. Every value is cited to the primary source
 * (apple-oss-distributions/xnu at xnu-11417.101.15, golang/sys unix/zerrors_darwin_*.go); see
 * shared/reference/darwin-windows-abi.md §1. Tests pin each value.
 */

// Address families (xnu bsd/sys/socket.h:386-441).
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_ROUTE = 17;
export const PF_ROUTE = AF_ROUTE;
export const AF_LINK = 18;
/** 30 on darwin (10 on Linux, 23 on Windows). */
export const AF_INET6 = 30;
export const AF_SYSTEM = 32;
export const AF_MAX = 41;

// Socket types and levels (xnu socket.h:113-161, 380).
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 0xffff;
export const SO_USELOOPBACK = 0x40;
export const SO_SNDBUF = 0x1001;
export const SO_RCVBUF = 0x1002;
export const SO_SNDTIMEO = 0x1005;
export const SO_RCVTIMEO = 0x1006;

// sysctl MIB for routing-table dumps (golang/sys zerrors_darwin: CTL_NET, NET_RT_*).
export const CTL_NET = 4;
export const NET_RT_DUMP = 1;
export const NET_RT_FLAGS = 2;
export const NET_RT_IFLIST = 3;
export const NET_RT_IFLIST2 = 6;
export const NET_RT_DUMP2 = 7;

/** xnu bsd/net/route.h:192. Not 3, not 7 (seed 000 bug 5 / seed 001 "Documented 3"). */
export const RTM_VERSION = 5;

// Message types (xnu route.h:197-219).
export const RTM_ADD = 0x1;
export const RTM_DELETE = 0x2;
export const RTM_CHANGE = 0x3;
export const RTM_GET = 0x4;
export const RTM_LOSING = 0x5;
export const RTM_REDIRECT = 0x6;
export const RTM_MISS = 0x7;
export const RTM_LOCK = 0x8;
export const RTM_OLDADD = 0x9;
export const RTM_OLDDEL = 0xa;
export const RTM_RESOLVE = 0xb;
export const RTM_NEWADDR = 0xc;
export const RTM_DELADDR = 0xd;
export const RTM_IFINFO = 0xe;
export const RTM_NEWMADDR = 0xf;
export const RTM_DELMADDR = 0x10;
export const RTM_IFINFO2 = 0x12;
export const RTM_NEWMADDR2 = 0x13;
export const RTM_GET2 = 0x14;

// Route flags (xnu route.h:94-125).
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;
export const RTF_HOST = 0x4;
export const RTF_REJECT = 0x8;
export const RTF_DYNAMIC = 0x10;
export const RTF_MODIFIED = 0x20;
/** Set by the kernel on success (rtsock.c:804-811). */
export const RTF_DONE = 0x40;
export const RTF_CLONING = 0x100;
export const RTF_LLINFO = 0x400;
/** 0x800 in every source (seed 000 bug 6 had 0x8, which is RTF_REJECT). */
export const RTF_STATIC = 0x800;
export const RTF_BLACKHOLE = 0x1000;
export const RTF_PROTO2 = 0x4000;
/** ztun's tag for the scoped defaults it installs (seed 004; docs/architecture.md). */
export const RTF_PROTO1 = 0x8000;
export const RTF_WASCLONED = 0x20000;
export const RTF_PROTO3 = 0x40000;
export const RTF_LOCAL = 0x200000;
/** 0x1000000 (xnu route.h:119). Seed 000 printed 0x00400000, which is not RTF_IFSCOPE. */
export const RTF_IFSCOPE = 0x1000000;
export const RTF_PROXY = 0x8000000;
export const RTF_GLOBAL = 0x40000000;

// rtm_inits / rmx_locks bits (xnu route.h:227-234).
export const RTV_MTU = 0x1;
export const RTV_HOPCOUNT = 0x2;
export const RTV_EXPIRE = 0x4;
export const RTV_RPIPE = 0x8;
export const RTV_SPIPE = 0x10;
export const RTV_SSTHRESH = 0x20;
export const RTV_RTT = 0x40;
export const RTV_RTTVAR = 0x80;

// rtm_addrs bits and their indexes (xnu route.h:242-262).
export const RTA_DST = 0x1;
export const RTA_GATEWAY = 0x2;
export const RTA_NETMASK = 0x4;
export const RTA_GENMASK = 0x8;
export const RTA_IFP = 0x10;
export const RTA_IFA = 0x20;
export const RTA_AUTHOR = 0x40;
export const RTA_BRD = 0x80;
export const RTAX_DST = 0;
export const RTAX_GATEWAY = 1;
export const RTAX_NETMASK = 2;
export const RTAX_GENMASK = 3;
export const RTAX_IFP = 4;
export const RTAX_IFA = 5;
export const RTAX_AUTHOR = 6;
export const RTAX_BRD = 7;
export const RTAX_MAX = 8;

// Socket options for binding outbound sockets to an interface (seed 004).
export const IPPROTO_IP = 0;
export const IPPROTO_IPV6 = 41;
/** xnu netinet/in.h:443; int ifindex at level IPPROTO_IP. */
export const IP_BOUND_IF = 25;
/** xnu netinet6/in6.h:641; int ifindex at level IPPROTO_IPV6. */
export const IPV6_BOUND_IF = 125;

// Struct sizes (xnu route.h:75-186, netinet/in.h, netinet6/in6.h, net/if_dl.h).
export const SIZEOF_RT_MSGHDR = 92;
export const SIZEOF_RT_METRICS = 56;
export const SIZEOF_SOCKADDR = 16;
export const SIZEOF_SOCKADDR_IN = 16;
export const SIZEOF_SOCKADDR_IN6 = 28;
export const SIZEOF_SOCKADDR_DL = 20;
/** Largest sockaddr the kernel accepts in a routing message (sizeof(struct sockaddr_storage)). */
export const SIZEOF_SOCKADDR_STORAGE = 128;

/** Field offsets of struct rt_msghdr (xnu route.h:158-171). rtm_errno is at 24 (golang/net reads 28). */
export const RT_MSGHDR_OFFSETS = {
  rtm_msglen: 0,
  rtm_version: 2,
  rtm_type: 3,
  rtm_index: 4,
  rtm_flags: 8,
  rtm_addrs: 12,
  rtm_pid: 16,
  rtm_seq: 20,
  rtm_errno: 24,
  rtm_use: 28,
  rtm_inits: 32,
  rtm_rmx: 36,
} as const;

/** Field offsets of struct rt_metrics (xnu route.h:75-87). */
export const RT_METRICS_OFFSETS = {
  rmx_locks: 0,
  rmx_mtu: 4,
  rmx_hopcount: 8,
  rmx_expire: 12,
  rmx_recvpipe: 16,
  rmx_sendpipe: 20,
  rmx_ssthresh: 24,
  rmx_rtt: 28,
  rmx_rttvar: 32,
  rmx_pksent: 36,
  rmx_filler: 40,
} as const;

/** Darwin errno values (golang/sys unix/zerrors_darwin_amd64.go and _arm64.go). */
export const DarwinErrno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  /** Also EWOULDBLOCK. */
  EAGAIN: 35,
  ENOTSOCK: 38,
  /** 39 on darwin. Seed 000 called errno 39 "EOPNOTSUPP"; darwin's EOPNOTSUPP is 102. */
  EDESTADDRREQ: 39,
  EMSGSIZE: 40,
  EPROTOTYPE: 41,
  EPROTONOSUPPORT: 43,
  ENOTSUP: 45,
  EAFNOSUPPORT: 47,
  EADDRNOTAVAIL: 49,
  ENETUNREACH: 51,
  ENOBUFS: 55,
  ETIMEDOUT: 60,
  EOPNOTSUPP: 102,
} as const;

export type DarwinErrnoName = keyof typeof DarwinErrno;

const errnoNames = new Map<number, DarwinErrnoName>(
  (Object.entries(DarwinErrno) as [DarwinErrnoName, number][]).map(([name, value]) => [value, name]),
);

/** The darwin name of an errno value, or `E<number>` when it is not one ztun knows. */
export function darwinErrnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}
