import { defineRouteFfiTypes, loadKoffi } from '@ztun/routing-darwin';
import type { IKoffiCType } from 'koffi';

/** koffi definitions of every struct the utun code passes to the kernel (64-bit darwin layouts). */
export interface UtunFfiTypes {
  ctl_info: IKoffiCType;
  sockaddr_ctl: IKoffiCType;
  /** The ifreq union: sockaddr / short flags / int mtu / caddr_t data — 16 bytes, 8-byte aligned. */
  ifreq_ifru: IKoffiCType;
  ifreq: IKoffiCType;
  ifaliasreq: IKoffiCType;
  in6_addrlifetime: IKoffiCType;
  in6_aliasreq: IKoffiCType;
  pollfd: IKoffiCType;
}

let cached: UtunFfiTypes | undefined;

/** Anonymous koffi structs (no global names, so ESM + CJS copies cannot clash). Buildable on any OS. */
export async function loadUtunFfiTypes(): Promise<UtunFfiTypes> {
  if (cached) return cached;
  const koffi = await loadKoffi();
  const { sockaddr, sockaddr_in, sockaddr_in6 } = defineRouteFfiTypes(koffi);
  const ctl_info = koffi.struct({ ctl_id: 'uint32_t', ctl_name: koffi.array('char', 96, 'Array') });
  const sockaddr_ctl = koffi.struct({
    sc_len: 'uint8_t',
    sc_family: 'uint8_t',
    ss_sysaddr: 'uint16_t',
    sc_id: 'uint32_t',
    sc_unit: 'uint32_t',
    sc_reserved: koffi.array('uint32_t', 5, 'Array'),
  });
  const ifreq_ifru = koffi.union({
    ifru_addr: sockaddr,
    ifru_dstaddr: sockaddr,
    ifru_flags: 'short',
    ifru_mtu: 'int',
    ifru_data: 'void *',
  });
  const ifreq = koffi.struct({ ifr_name: koffi.array('char', 16, 'Array'), ifr_ifru: ifreq_ifru });
  // C declares the three addresses as `struct sockaddr` (all bytes: alignment 1; xnu net/if.h); we keep
  // sockaddr_in's field names for encoding, packed so the struct's alignment stays C's 1.
  const ifaliasreq = koffi.pack({
    ifra_name: koffi.array('char', 16, 'Array'),
    ifra_addr: sockaddr_in,
    ifra_broadaddr: sockaddr_in,
    ifra_mask: sockaddr_in,
  });
  const in6_addrlifetime = koffi.struct({
    ia6t_expire: 'int64_t', // time_t
    ia6t_preferred: 'int64_t',
    ia6t_vltime: 'uint32_t',
    ia6t_pltime: 'uint32_t',
  });
  const in6_aliasreq = koffi.struct({
    ifra_name: koffi.array('char', 16, 'Array'),
    ifra_addr: sockaddr_in6,
    ifra_dstaddr: sockaddr_in6,
    ifra_prefixmask: sockaddr_in6,
    ifra_flags: 'int',
    ifra_lifetime: in6_addrlifetime,
  });
  const pollfd = koffi.struct({ fd: 'int', events: 'short', revents: 'short' });
  cached = { ctl_info, sockaddr_ctl, ifreq_ifru, ifreq, ifaliasreq, in6_addrlifetime, in6_aliasreq, pollfd };
  return cached;
}
