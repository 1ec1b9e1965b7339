import { describe, expect, it } from 'vitest';
import * as R from '../src/index.js';
import { DarwinErrno, darwinErrnoName, loadRouteFfiTypes } from '../src/index.js';

// Every value below is XNU's (shared/reference/darwin-windows-abi.md §1.1, with its xnu/golang-sys line).
describe('routing constants pinned to XNU', () => {
  it('address families and socket levels', () => {
    expect([
      R.AF_UNSPEC,
      R.AF_INET,
      R.AF_ROUTE,
      R.PF_ROUTE,
      R.AF_LINK,
      R.AF_INET6,
      R.AF_SYSTEM,
      R.AF_MAX,
    ]).toEqual([0, 2, 17, 17, 18, 30, 32, 41]);
    expect([R.SOCK_STREAM, R.SOCK_DGRAM, R.SOCK_RAW]).toEqual([1, 2, 3]);
    expect([R.SOL_SOCKET, R.SO_USELOOPBACK, R.SO_SNDBUF, R.SO_RCVBUF, R.SO_SNDTIMEO, R.SO_RCVTIMEO]).toEqual([
      0xffff, 0x40, 0x1001, 0x1002, 0x1005, 0x1006,
    ]);
    expect([
      R.CTL_NET,
      R.NET_RT_DUMP,
      R.NET_RT_FLAGS,
      R.NET_RT_IFLIST,
      R.NET_RT_IFLIST2,
      R.NET_RT_DUMP2,
    ]).toEqual([4, 1, 2, 3, 6, 7]);
  });

  it('RTM_VERSION is 5 (seed 000 bug 5 tried 7; seed 001 quotes "documented 3")', () => {
    expect(R.RTM_VERSION).toBe(5);
  });

  it('message types', () => {
    expect([
      R.RTM_ADD,
      R.RTM_DELETE,
      R.RTM_CHANGE,
      R.RTM_GET,
      R.RTM_LOSING,
      R.RTM_REDIRECT,
      R.RTM_MISS,
      R.RTM_LOCK,
      R.RTM_OLDADD,
      R.RTM_OLDDEL,
      R.RTM_RESOLVE,
      R.RTM_NEWADDR,
      R.RTM_DELADDR,
      R.RTM_IFINFO,
      R.RTM_NEWMADDR,
      R.RTM_DELMADDR,
      R.RTM_IFINFO2,
      R.RTM_NEWMADDR2,
      R.RTM_GET2,
    ]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x12, 0x13, 0x14]);
  });

  it('route flags', () => {
    expect({
      UP: R.RTF_UP,
      GATEWAY: R.RTF_GATEWAY,
      HOST: R.RTF_HOST,
      REJECT: R.RTF_REJECT,
      DYNAMIC: R.RTF_DYNAMIC,
      MODIFIED: R.RTF_MODIFIED,
      DONE: R.RTF_DONE,
      CLONING: R.RTF_CLONING,
      LLINFO: R.RTF_LLINFO,
      STATIC: R.RTF_STATIC,
      BLACKHOLE: R.RTF_BLACKHOLE,
      PROTO2: R.RTF_PROTO2,
      PROTO1: R.RTF_PROTO1,
      WASCLONED: R.RTF_WASCLONED,
      PROTO3: R.RTF_PROTO3,
      LOCAL: R.RTF_LOCAL,
      IFSCOPE: R.RTF_IFSCOPE,
      PROXY: R.RTF_PROXY,
      GLOBAL: R.RTF_GLOBAL,
    }).toEqual({
      UP: 0x1,
      GATEWAY: 0x2,
      HOST: 0x4,
      REJECT: 0x8,
      DYNAMIC: 0x10,
      MODIFIED: 0x20,
      DONE: 0x40,
      CLONING: 0x100,
      LLINFO: 0x400,
      STATIC: 0x800,
      BLACKHOLE: 0x1000,
      PROTO2: 0x4000,
      PROTO1: 0x8000,
      WASCLONED: 0x20000,
      PROTO3: 0x40000,
      LOCAL: 0x200000,
      IFSCOPE: 0x1000000,
      PROXY: 0x8000000,
      GLOBAL: 0x40000000,
    });
    // Seed 000 bug 6: RTF_STATIC is 0x800 — its first guess 0x8 is RTF_REJECT.
    expect(R.RTF_STATIC).not.toBe(0x8);
    // Seed 000 printed RTF_IFSCOPE as 0x00400000; XNU route.h:119 says 0x1000000.
    expect(R.RTF_IFSCOPE).not.toBe(0x00400000);
  });

  it('RTV_*, RTA_*, RTAX_*', () => {
    expect([
      R.RTV_MTU,
      R.RTV_HOPCOUNT,
      R.RTV_EXPIRE,
      R.RTV_RPIPE,
      R.RTV_SPIPE,
      R.RTV_SSTHRESH,
      R.RTV_RTT,
      R.RTV_RTTVAR,
    ]).toEqual([1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80]);
    expect([
      R.RTA_DST,
      R.RTA_GATEWAY,
      R.RTA_NETMASK,
      R.RTA_GENMASK,
      R.RTA_IFP,
      R.RTA_IFA,
      R.RTA_AUTHOR,
      R.RTA_BRD,
    ]).toEqual([1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80]);
    expect([
      R.RTAX_DST,
      R.RTAX_GATEWAY,
      R.RTAX_NETMASK,
      R.RTAX_GENMASK,
      R.RTAX_IFP,
      R.RTAX_IFA,
      R.RTAX_AUTHOR,
      R.RTAX_BRD,
      R.RTAX_MAX,
    ]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('IP_BOUND_IF 25 / IPV6_BOUND_IF 125 and their levels', () => {
    expect([R.IPPROTO_IP, R.IPPROTO_IPV6, R.IP_BOUND_IF, R.IPV6_BOUND_IF]).toEqual([0, 41, 25, 125]);
  });

  it('struct sizes and rt_msghdr / rt_metrics offsets (rtm_errno at 24)', () => {
    expect([
      R.SIZEOF_RT_MSGHDR,
      R.SIZEOF_RT_METRICS,
      R.SIZEOF_SOCKADDR,
      R.SIZEOF_SOCKADDR_IN,
      R.SIZEOF_SOCKADDR_IN6,
      R.SIZEOF_SOCKADDR_DL,
    ]).toEqual([92, 56, 16, 16, 28, 20]);
    // Seed 001 "Documented 64": sizeof(rt_msghdr) is 92 (0x5c), metrics included (seed 000 bug 7 had 52).
    expect(R.SIZEOF_RT_MSGHDR).not.toBe(64);
    expect(R.RT_MSGHDR_OFFSETS).toEqual({
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
    });
    expect(R.RT_METRICS_OFFSETS.rmx_filler).toBe(40);
    expect(R.RT_MSGHDR_OFFSETS.rtm_rmx + R.SIZEOF_RT_METRICS).toBe(R.SIZEOF_RT_MSGHDR);
  });

  it('darwin errno values', () => {
    expect(DarwinErrno).toMatchObject({
      EPERM: 1,
      ESRCH: 3,
      EEXIST: 17,
      EINVAL: 22,
      EAGAIN: 35,
      EPROTONOSUPPORT: 43,
      EAFNOSUPPORT: 47,
      ENETUNREACH: 51,
      ENOBUFS: 55,
      EOPNOTSUPP: 102,
    });
    // Seed 000 bug 10 reported write() failing with "EOPNOTSUPP (errno=39)": on darwin 39 is
    // EDESTADDRREQ and EOPNOTSUPP is 102 (golang/sys zerrors_darwin).
    expect(darwinErrnoName(39)).toBe('EDESTADDRREQ');
    expect(darwinErrnoName(102)).toBe('EOPNOTSUPP');
    expect(darwinErrnoName(999)).toBe('E999');
  });
});

describe('koffi struct definitions match XNU sizes and offsets', () => {
  it('rt_msghdr, rt_msghdr2, rt_metrics, sockaddr*, timeval', async () => {
    const koffi = await R.loadKoffi();
    const t = await loadRouteFfiTypes();
    expect(koffi.sizeof(t.rt_msghdr)).toBe(92);
    expect(koffi.sizeof(t.rt_msghdr2)).toBe(92);
    for (const [field, offset] of Object.entries(R.RT_MSGHDR_OFFSETS)) {
      expect([field, koffi.offsetof(t.rt_msghdr, field)]).toEqual([field, offset]);
    }
    expect(
      [16, 20, 24].map(
        (o, i) => koffi.offsetof(t.rt_msghdr2, ['rtm_refcnt', 'rtm_parentflags', 'rtm_reserved'][i]!) - o,
      ),
    ).toEqual([0, 0, 0]);
    expect(koffi.sizeof(t.rt_metrics)).toBe(56);
    for (const [field, offset] of Object.entries(R.RT_METRICS_OFFSETS)) {
      expect([field, koffi.offsetof(t.rt_metrics, field)]).toEqual([field, offset]);
    }
    expect(koffi.sizeof(t.sockaddr)).toBe(16);
    expect(koffi.sizeof(t.sockaddr_in)).toBe(16);
    // struct in_addr is a 32-bit s_addr (xnu netinet/in.h): C aligns sockaddr_in to 4, sockaddr to 1.
    expect([koffi.alignof(t.sockaddr_in), koffi.alignof(t.sockaddr)]).toEqual([4, 1]);
    expect(
      ['sin_len', 'sin_family', 'sin_port', 'sin_addr', 'sin_zero'].map((f) =>
        koffi.offsetof(t.sockaddr_in, f),
      ),
    ).toEqual([0, 1, 2, 4, 8]);
    expect(koffi.sizeof(t.sockaddr_in6)).toBe(28);
    expect(
      ['sin6_len', 'sin6_family', 'sin6_port', 'sin6_flowinfo', 'sin6_addr', 'sin6_scope_id'].map((f) =>
        koffi.offsetof(t.sockaddr_in6, f),
      ),
    ).toEqual([0, 1, 2, 4, 8, 24]);
    expect(koffi.sizeof(t.sockaddr_dl)).toBe(20);
    expect(
      ['sdl_len', 'sdl_family', 'sdl_index', 'sdl_type', 'sdl_nlen', 'sdl_alen', 'sdl_slen', 'sdl_data'].map(
        (f) => koffi.offsetof(t.sockaddr_dl, f),
      ),
    ).toEqual([0, 1, 2, 4, 5, 6, 7, 8]);
    // golang/sys ztypes_darwin: Timeval { Sec int64; Usec int32; _ [4]byte } — 16 bytes.
    expect(koffi.sizeof(t.timeval)).toBe(16);
    expect(koffi.offsetof(t.timeval, 'tv_usec')).toBe(8);
  });

  it('koffi reads a captured message the same way the codec does', async () => {
    const koffi = await R.loadKoffi();
    const t = await loadRouteFfiTypes();
    const { V1 } = await import('./vectors.js');
    const header = koffi.decode(Buffer.from(V1), t.rt_msghdr);
    expect([header.rtm_msglen, header.rtm_version, header.rtm_type, header.rtm_index]).toEqual([
      132, 5, 4, 1,
    ]);
    expect([header.rtm_flags, header.rtm_addrs, header.rtm_pid, header.rtm_seq, header.rtm_errno]).toEqual([
      0x01000803, 0x15, 283, 23285, 3,
    ]);
  });
});
