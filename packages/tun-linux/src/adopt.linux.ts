import { RtNetlink } from '@ztun/routing-linux';
import { checkInteger, LinuxTun, netlinkStep } from './device.linux.js';
import { LateHooks } from './engine.linux.js';
import { errnoName, TunError } from './errors.js';
import {
  decodeIfreqFlags,
  decodeIfreqName,
  GSO_MAX_PACKET,
  IFF_NO_PI,
  IFF_TAP,
  IFF_TUN,
  IFF_VNET_HDR,
  IFREQ_SIZE,
  slotSizeFor,
  TUNGETIFF,
  TUNGETVNETHDRSZ,
} from './ifreq.js';
import { F_DUPFD_CLOEXEC, getLibc, lastErrno } from './libc.linux.js';
import { NativeEngine } from './native-engine.linux.js';
import { tunIoAddon } from './tun-io.linux.js';

// Adopting a TUN someone else opened (Android's VpnService, a supervisor, a container runtime, a parent
// process passing fd 3): its name and flags come from the fd (TUNGETIFF, linux/if_tun.h), its index and MTU
// from rtnetlink. Nothing about the link is changed. The addon owns a close-on-exec duplicate
// (F_DUPFD_CLOEXEC, fcntl(2)) and closes only that one: the caller's fd, and so the device, stay.

export interface AdoptTunOptions {
  /** An fd of /dev/net/tun already attached to a device (TUNSETIFF done), IFF_TUN | IFF_NO_PI. */
  fd: number;
  batchSize?: number;
  queueLimit?: number;
  batchesPerWake?: number;
  /** Write on the addon's write thread (OpenTunOptions.writeThread). Default false. */
  writeThread?: boolean;
}

/** What TUNGETIFF tells about an fd: the interface name, its IFF_* flags and whether it carries a vnet header. */
export interface TunFdInfo {
  readonly name: string;
  readonly flags: number;
  readonly vnetHeader: boolean;
}

/** TUNGETIFF on `fd`; throws TunError when it is no attached TUN fd, or one ztun cannot use. */
export function tunFdInfo(fd: number): TunFdInfo {
  checkInteger('fd', fd, 0, 0x7fffffff);
  const libc = getLibc();
  const ifreq = new Uint8Array(IFREQ_SIZE);
  if (libc.ioctl(fd, TUNGETIFF, 'uint8_t *', ifreq) < 0) {
    const errno = lastErrno();
    const why: Record<string, string> = {
      EBADF: `fd ${fd} is not open`,
      ENOTTY: `fd ${fd} is not a /dev/net/tun descriptor`,
      EINVAL: `fd ${fd} is not a /dev/net/tun descriptor`,
      EBADFD: `fd ${fd} is a /dev/net/tun descriptor attached to no device (TUNSETIFF not done)`,
    };
    throw TunError.fromErrno('TUNGETIFF', errno, why[errnoName(errno)]);
  }
  const name = decodeIfreqName(ifreq);
  const flags = decodeIfreqFlags(ifreq);
  const bad = (detail: string) => new TunError('TUNGETIFF', 'EINVAL', 22, `${name} on fd ${fd}: ${detail}`);
  if (flags & IFF_TAP || !(flags & IFF_TUN)) throw bad('a TAP device (ethernet frames); ztun needs IFF_TUN');
  if (!(flags & IFF_NO_PI))
    throw bad('opened without IFF_NO_PI (4-byte packet headers); open it with IFF_NO_PI');
  const vnetHeader = (flags & IFF_VNET_HDR) !== 0;
  if (vnetHeader) {
    const size = new Int32Array(1);
    if (libc.ioctl(fd, TUNGETVNETHDRSZ, 'uint8_t *', new Uint8Array(size.buffer)) < 0)
      throw TunError.fromErrno('TUNGETVNETHDRSZ', lastErrno());
    // The addon's offload path reads and writes the 10-byte struct virtio_net_hdr.
    if (size[0] !== 10) throw bad(`a ${size[0]}-byte vnet header; ztun handles 10`);
  }
  return { name, flags, vnetHeader };
}

/**
 * Adopts an open TUN fd. Synchronous (like openTunSync). The returned device's close() closes ztun's
 * duplicate only. The fd's open file description is shared, so it becomes non-blocking for its owner too.
 */
export function adoptTunSync(options: AdoptTunOptions): LinuxTun {
  const info = tunFdInfo(options.fd);
  // Reading the link first: an fd whose device is in another namespace fails here, before any fd is made.
  const nl = netlinkStep('open rtnetlink socket', () => RtNetlink.open());
  let link: ReturnType<RtNetlink['getLink']>;
  try {
    link = netlinkStep(`get link ${info.name}`, () => nl.getLink(info.name));
  } finally {
    nl.close();
  }
  // A vnet-header fd may carry TCP super-packets (if its owner enabled TSO): slots sized for them.
  const slotSize = slotSizeFor(info.vnetHeader ? GSO_MAX_PACKET : link.mtu);
  const batchSize = checkInteger(
    'batchSize',
    options.batchSize ?? Math.max(1, Math.min(64, Math.floor((8 << 20) / slotSize))),
    1,
    65536,
  );
  const queueLimit = checkInteger('queueLimit', options.queueLimit ?? 1024, 0, 1 << 20);
  const batchesPerWake = checkInteger('batchesPerWake', options.batchesPerWake ?? 4, 1, 1024);
  const layout = tunIoAddon().counters;
  const counters = new Float64Array(layout.count);
  const hooks = new LateHooks();
  const own = getLibc().fcntl(options.fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) throw TunError.fromErrno('fcntl F_DUPFD_CLOEXEC', lastErrno());
  // From here the addon owns `own` (it closes it itself if it cannot take it).
  const engine = new NativeEngine({
    devicePath: '',
    name: info.name,
    fd: own,
    offload: info.vnetHeader,
    ...(options.writeThread ? { writeThread: true } : {}),
    slotSize,
    batchSize,
    queueLimit,
    batchesPerWake,
    counters,
    hooks,
  });
  return new LinuxTun(info.name, link.index, link.mtu, engine, counters, layout, hooks);
}

/** The promise-shaped entry point of adoptTunSync. */
export async function adoptTun(options: AdoptTunOptions): Promise<LinuxTun> {
  return adoptTunSync(options);
}
