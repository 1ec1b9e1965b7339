import type { IKoffiCType } from 'koffi';

type Koffi = typeof import('koffi');

/** koffi, loaded on first use only (the codecs and the client never need it). */
export async function loadKoffi(): Promise<Koffi> {
  const mod = (await import('koffi')) as Koffi & { default?: Koffi };
  return mod.default ?? mod;
}

/** koffi definitions of the C structs the route-socket transport passes (darwin layouts). */
export interface RouteFfiTypes {
  rt_metrics: IKoffiCType;
  rt_msghdr: IKoffiCType;
  rt_msghdr2: IKoffiCType;
  sockaddr: IKoffiCType;
  sockaddr_in: IKoffiCType;
  sockaddr_in6: IKoffiCType;
  sockaddr_dl: IKoffiCType;
  /** struct timeval on 64-bit darwin: tv_sec (long) then tv_usec (int32) and 4 bytes of padding. */
  timeval: IKoffiCType;
}

let cached: RouteFfiTypes | undefined;

/**
 * Builds the koffi struct definitions (anonymous, so loading this module twice — ESM and CJS — cannot
 * clash in koffi's type registry). Definitions can be built on any OS; tests check every size and offset
 * against xnu's headers.
 */
export function defineRouteFfiTypes(koffi: Koffi): RouteFfiTypes {
  if (cached) return cached;
  const rt_metrics = koffi.struct({
    rmx_locks: 'uint32_t',
    rmx_mtu: 'uint32_t',
    rmx_hopcount: 'uint32_t',
    rmx_expire: 'int32_t',
    rmx_recvpipe: 'uint32_t',
    rmx_sendpipe: 'uint32_t',
    rmx_ssthresh: 'uint32_t',
    rmx_rtt: 'uint32_t',
    rmx_rttvar: 'uint32_t',
    rmx_pksent: 'uint32_t',
    rmx_filler: koffi.array('uint32_t', 4),
  });
  const rt_msghdr = koffi.struct({
    rtm_msglen: 'uint16_t',
    rtm_version: 'uint8_t',
    rtm_type: 'uint8_t',
    rtm_index: 'uint16_t',
    rtm_flags: 'int',
    rtm_addrs: 'int',
    rtm_pid: 'int32_t',
    rtm_seq: 'int',
    rtm_errno: 'int',
    rtm_use: 'int',
    rtm_inits: 'uint32_t',
    rtm_rmx: rt_metrics,
  });
  const rt_msghdr2 = koffi.struct({
    rtm_msglen: 'uint16_t',
    rtm_version: 'uint8_t',
    rtm_type: 'uint8_t',
    rtm_index: 'uint16_t',
    rtm_flags: 'int',
    rtm_addrs: 'int',
    rtm_refcnt: 'int32_t',
    rtm_parentflags: 'int',
    rtm_reserved: 'int',
    rtm_use: 'int',
    rtm_inits: 'uint32_t',
    rtm_rmx: rt_metrics,
  });
  const sockaddr = koffi.struct({
    sa_len: 'uint8_t',
    sa_family: 'uint8_t',
    sa_data: koffi.array('uint8_t', 14, 'Array'),
  });
  const sockaddr_in = koffi.struct({
    sin_len: 'uint8_t',
    sin_family: 'uint8_t',
    sin_port: 'uint16_t',
    // struct in_addr holds a 32-bit s_addr (xnu netinet/in.h), so sockaddr_in is 4-byte aligned in C.
    sin_addr: [4, koffi.array('uint8_t', 4, 'Array')],
    sin_zero: koffi.array('uint8_t', 8, 'Array'),
  });
  const sockaddr_in6 = koffi.struct({
    sin6_len: 'uint8_t',
    sin6_family: 'uint8_t',
    sin6_port: 'uint16_t',
    sin6_flowinfo: 'uint32_t',
    sin6_addr: koffi.array('uint8_t', 16, 'Array'),
    sin6_scope_id: 'uint32_t',
  });
  const sockaddr_dl = koffi.struct({
    sdl_len: 'uint8_t',
    sdl_family: 'uint8_t',
    sdl_index: 'uint16_t',
    sdl_type: 'uint8_t',
    sdl_nlen: 'uint8_t',
    sdl_alen: 'uint8_t',
    sdl_slen: 'uint8_t',
    sdl_data: koffi.array('uint8_t', 12, 'Array'),
  });
  const timeval = koffi.struct({ tv_sec: 'int64_t', tv_usec: 'int32_t' });
  cached = { rt_metrics, rt_msghdr, rt_msghdr2, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_dl, timeval };
  return cached;
}

export async function loadRouteFfiTypes(): Promise<RouteFfiTypes> {
  return defineRouteFfiTypes(await loadKoffi());
}
