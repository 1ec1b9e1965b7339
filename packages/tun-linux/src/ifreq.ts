// struct ifreq and the TUN ioctl numbers (linux/if_tun.h, linux/if.h). Pure: no syscalls, testable anywhere.

/** IFNAMSIZ: 15 bytes of name plus the terminating NUL. */
export const IFNAMSIZ = 16;
/** sizeof(struct ifreq) on 64-bit Linux: 16 bytes of name and a 24-byte union. */
export const IFREQ_SIZE = 40;

export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_VNET_HDR = 0x4000;

// _IOW('T', 202, int) and _IOR('T', 210, unsigned int).
export const TUNSETIFF = 0x400454ca;
export const TUNGETIFF = 0x800454d2;
// _IOW('T', 208, unsigned int): the offload features (argument by value).
export const TUNSETOFFLOAD = 0x400454d0;
/** _IOR('T', 215, int): the size of the virtio_net_hdr an IFF_VNET_HDR fd carries. */
export const TUNGETVNETHDRSZ = 0x800454d7;
/** _IOW('T', 216, int) */
export const TUNSETVNETHDRSZ = 0x400454d8;
/** TUNSETOFFLOAD feature: the device accepts packets with partial checksums. */
export const TUN_F_CSUM = 0x01;
/** TUNSETOFFLOAD features (linux/if_tun.h): TCP segmentation offload for IPv4, IPv6, and with ECN (CWR). */
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
/**
 * The largest packet a TSO device hands over or takes: an IPv6 super-packet, 40 + a 65535-byte payload (the
 * TUN's gso_max_size is the legacy 64 KiB; IPv4's total length is 16 bits).
 */
export const GSO_MAX_PACKET = 40 + 65535;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Why `name` cannot be an interface name (the kernel's dev_valid_name rules), or undefined when it can.
 * `%d` is allowed: the kernel replaces it with the first free number.
 */
export function invalidInterfaceName(name: string): string | undefined {
  const bytes = encoder.encode(name).length;
  if (bytes === 0) return 'the name is empty';
  if (bytes >= IFNAMSIZ) return `"${name}" is ${bytes} bytes; interface names have at most ${IFNAMSIZ - 1}`;
  if (name === '.' || name === '..') return `"${name}" is not a valid interface name`;
  if (/[/:\s\u0000]/.test(name)) return `"${name}" contains '/', ':', a NUL or whitespace`;
  if ((name.match(/%/g)?.length ?? 0) > 1 || (name.includes('%') && !name.includes('%d')))
    return `"${name}" may hold one %d and no other %`;
  return undefined;
}

/** Builds a struct ifreq with `name` (may be empty: the kernel picks `tun%d`) and ifr_flags. */
export function encodeIfreq(name: string, flags: number): Uint8Array {
  const buf = new Uint8Array(IFREQ_SIZE);
  buf.set(encoder.encode(name).subarray(0, IFNAMSIZ - 1), 0);
  new DataView(buf.buffer).setUint16(IFNAMSIZ, flags & 0xffff, true);
  return buf;
}

/** The NUL-terminated ifr_name of a struct ifreq (after TUNSETIFF it is the name the kernel gave). */
export function decodeIfreqName(buf: Uint8Array): string {
  let end = 0;
  while (end < IFNAMSIZ && buf[end] !== 0) end++;
  return decoder.decode(buf.subarray(0, end));
}

export function decodeIfreqFlags(buf: Uint8Array): number {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint16(IFNAMSIZ, true);
}

/**
 * Slot size for a device MTU: the next multiple of 64 strictly above the MTU, so that a read filling a whole
 * slot can only be a packet the kernel cut short (it truncates silently when the MTU grew behind our back).
 */
export function slotSizeFor(mtu: number): number {
  return (mtu + 64) & ~63;
}
