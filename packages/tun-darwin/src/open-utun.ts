/**
 * How a utun is made, OS-free: the syscall sequence of wireguard-go / sing-tun (reference doc §2.5) over a
 * `UtunSyscalls` seam. On a Mac the seam is libSystem through koffi (utun.darwin.ts); tests put a simulated
 * XNU behind it, so the exact bytes of ctl_info, sockaddr_ctl, ifreq, ifaliasreq and in6_aliasreq this
 * sends are read back by a model that decodes them independently.
 */
import {
  AF_INET,
  AF_INET6,
  CTLIOCGINFO,
  IFF_RUNNING,
  IFF_UP,
  IFNAMSIZ,
  PF_SYSTEM,
  SIOCAIFADDR,
  SIOCAIFADDR_IN6,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  SOCK_DGRAM,
  SYSPROTO_CONTROL,
  UTUN_CONTROL_NAME,
  UTUN_DEFAULT_MTU,
  UTUN_OPT_IFNAME,
} from './constants.js';
import { UtunDevice, type UtunDeviceOptions, type UtunFd } from './device.js';
import { UtunError, UtunInputError } from './errors.js';
import {
  decodeIfreqFlags,
  encodeCtlInfo,
  encodeIfaliasreq,
  encodeIfreqFlags,
  encodeIfreqMtu,
  encodeIn6Aliasreq,
  encodeSockaddrCtl,
  type InterfaceAddress,
  interfaceAddressFamily,
} from './structs.js';

/** The calls openUtunWith makes; each returns its result or a negative darwin errno (never throws). */
export interface UtunSyscalls {
  socket(domain: number, type: number, protocol: number): number;
  /** ioctl(fd, request, arg): 0 or -errno; the kernel may write into `arg` (CTLIOCGINFO, SIOCGIFFLAGS). */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  connect(fd: number, address: Uint8Array): number;
  /** getsockopt into `value`: the length the kernel wrote, or -errno. */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  /** O_NONBLOCK | FD_CLOEXEC: 0 or -errno. */
  nonBlocking(fd: number): number;
  /** if_nametoindex(3): 0 when unknown. */
  ifNameToIndex(name: string): number;
  close(fd: number): void;
  /** The packet path over the connected utun socket (the koffi poll engine on a Mac). Throws UtunError. */
  dataPlane(fd: number): UtunFd;
}

export interface OpenUtunOptions extends UtunDeviceOptions {
  /** utunN to create; default: the kernel picks the first free unit (sc_unit 0). */
  unit?: number;
  /** `utunN` (the only names macOS gives utun devices) — the same as `unit: N`. */
  name?: string;
  /** MTU. Default 1500 (utun's own default). */
  mtu?: number;
  /** Addresses: `198.18.0.1/15`, `fd00:18::1/64`, or `{cidr, peer}` for a point-to-point peer. */
  addresses?: (string | InterfaceAddress)[];
  /** Set IFF_UP | IFF_RUNNING. Default true. */
  up?: boolean;
}

/** sc_unit for the options: 0 (first free) unless `unit` or a `utunN` name asks for N (sc_unit N + 1). */
export function utunUnitFor(options: Pick<OpenUtunOptions, 'unit' | 'name'>): number {
  let unit = options.unit;
  if (options.name !== undefined) {
    const match = /^utun(0|[1-9][0-9]{0,5})$/.exec(options.name);
    if (!match)
      throw new UtunInputError(`macOS names utun devices utunN; got ${JSON.stringify(options.name)}`);
    const fromName = Number(match[1]);
    if (unit !== undefined && unit !== fromName)
      throw new UtunInputError(`name ${options.name} and unit ${unit} disagree`);
    unit = fromName;
  }
  if (unit === undefined) return 0;
  if (!Number.isInteger(unit) || unit < 0 || unit > 0xfffffffe)
    throw new UtunInputError(`bad utun unit: ${unit}`);
  return unit + 1;
}

function check(result: number, operation: string, detail?: string): number {
  if (result < 0) throw new UtunError(operation, -result, detail);
  return result;
}

function withSocket<T>(sys: UtunSyscalls, family: number, use: (fd: number) => T): T {
  const fd = check(
    sys.socket(family, SOCK_DGRAM, 0),
    `socket(${family === AF_INET ? 'AF_INET' : 'AF_INET6'})`,
  );
  try {
    return use(fd);
  } finally {
    sys.close(fd);
  }
}

/** Validates the options (any OS, before any syscall): MTU, addresses, unit. Throws UtunInputError. */
export function checkUtunOptions(options: OpenUtunOptions) {
  const mtu = options.mtu ?? UTUN_DEFAULT_MTU;
  const addresses = (options.addresses ?? []).map((a) => (typeof a === 'string' ? { cidr: a } : a));
  const families = addresses.map((a) => interfaceAddressFamily(a));
  const minMtu = families.includes('inet6') ? 1280 : 68;
  if (!Number.isInteger(mtu) || mtu < minMtu || mtu > 65535) {
    throw new UtunInputError(
      `bad MTU ${mtu}: ${minMtu}-65535${minMtu === 1280 ? ' (IPv6 needs ≥ 1280)' : ''}`,
    );
  }
  return { mtu, addresses, families, unit: utunUnitFor(options) };
}

/** Creates and configures a utun through `sys`. Closing the device removes the interface. */
export function openUtunWith(sys: UtunSyscalls, options: OpenUtunOptions = {}): UtunDevice {
  const { mtu, addresses, families, unit } = checkUtunOptions(options);
  const fd = check(
    sys.socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL),
    'socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL)',
  );
  let handedOver = false;
  try {
    const info = encodeCtlInfo(UTUN_CONTROL_NAME);
    check(sys.ioctl(fd, CTLIOCGINFO, info), 'ioctl(CTLIOCGINFO)', UTUN_CONTROL_NAME);
    const ctlId = new DataView(info.buffer, info.byteOffset, 4).getUint32(0, true); // ctl_info.ctl_id @0
    check(sys.connect(fd, encodeSockaddrCtl(ctlId, unit)), 'connect(utun)', `sc_unit ${unit}`);
    const nameBuf = new Uint8Array(IFNAMSIZ);
    const nameLen = check(
      sys.getsockopt(fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, nameBuf),
      'getsockopt(UTUN_OPT_IFNAME)',
    );
    const end = nameBuf.indexOf(0);
    const name = Buffer.from(nameBuf.subarray(0, end < 0 ? nameLen : end)).toString('latin1');
    check(sys.nonBlocking(fd), 'fcntl(O_NONBLOCK|FD_CLOEXEC)');
    const index = sys.ifNameToIndex(name);
    if (index === 0) throw new UtunError(`if_nametoindex(${name})`, 6 /* ENXIO */);

    withSocket(sys, AF_INET, (s) => {
      check(sys.ioctl(s, SIOCSIFMTU, encodeIfreqMtu(name, mtu)), 'ioctl(SIOCSIFMTU)', `${name} ${mtu}`);
      addresses.forEach((address, i) => {
        if (families[i] !== 'inet') return;
        check(sys.ioctl(s, SIOCAIFADDR, encodeIfaliasreq(name, address)), 'ioctl(SIOCAIFADDR)', address.cidr);
      });
      if (options.up ?? true) {
        const req = encodeIfreqFlags(name, 0);
        check(sys.ioctl(s, SIOCGIFFLAGS, req), 'ioctl(SIOCGIFFLAGS)', name);
        const flags = decodeIfreqFlags(req) | IFF_UP | IFF_RUNNING;
        check(sys.ioctl(s, SIOCSIFFLAGS, encodeIfreqFlags(name, flags)), 'ioctl(SIOCSIFFLAGS)', name);
      }
    });
    if (families.includes('inet6')) {
      withSocket(sys, AF_INET6, (s) => {
        addresses.forEach((address, i) => {
          if (families[i] !== 'inet6') return;
          check(
            sys.ioctl(s, SIOCAIFADDR_IN6, encodeIn6Aliasreq(name, address)),
            'ioctl(SIOCAIFADDR_IN6)',
            address.cidr,
          );
        });
      });
    }
    const device = new UtunDevice(sys.dataPlane(fd), { name, index, mtu }, options);
    handedOver = true;
    return device;
  } finally {
    if (!handedOver) sys.close(fd); // removes the half-configured interface
  }
}
