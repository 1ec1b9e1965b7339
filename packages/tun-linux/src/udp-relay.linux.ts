import type { PacketBatch, UdpRelay, UdpRelayEngine, UdpRelayOptions, UdpRelayStats } from '@ztun/packet';
import { nativeAddon } from './load-addon.linux.js';

// The batch UDP path's Linux engine (native/udp_relay.cc): one native UdpRelay per session socket, all sharing
// one receive slab (they run on the one JS thread, and each hands its batch to JS before the next reads).

/** Datagrams per recvmmsg (native kBatch) and the slot size: headroom for IPv6 + UDP, then 64 KiB. */
const BATCH = 64;
const SLOT = 48 + 65536;

interface NativeRelay {
  readonly localPort: number;
  readonly gsoSends: number;
  replyTo(client: Uint8Array, port: number): void;
  send(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    dsts: Uint8Array,
    dports: Uint32Array,
    count: number,
    dstFamily: number,
    errIndex: Uint32Array,
    errCode: Int32Array,
  ): number;
  stats(): number[];
  close(): void;
}

type NativeRelayClass = new (options: {
  fd: number;
  family: number;
  socks5Address?: Uint8Array;
  socks5Port?: number;
  gso: boolean;
  slab: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  from: Uint8Array;
  fromPorts: Uint32Array;
  onRecv(count: number, foreign: number, badReply: number): void;
  onError(errno: number): void;
}) => NativeRelay;

interface Shared {
  slab: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  from: Uint8Array;
  fromPorts: Uint32Array;
  /** The one batch object handed to every replyTo receiver (valid during the call only). */
  batch: { count: number; data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array };
}

let shared: Shared | undefined;

function buffers(): Shared {
  if (!shared) {
    // Pages of the slab are touched only where datagrams land (a 1400-byte datagram: one page per slot).
    const slab = new Uint8Array(BATCH * SLOT);
    const offsets = new Uint32Array(BATCH);
    const lengths = new Uint32Array(BATCH);
    shared = {
      slab,
      offsets,
      lengths,
      from: new Uint8Array(BATCH * 16),
      fromPorts: new Uint32Array(BATCH),
      batch: { count: 0, data: slab, offsets, lengths },
    };
  }
  return shared;
}

const sendErrors = { index: new Uint32Array(BATCH), code: new Int32Array(BATCH) };

class LinuxUdpRelay implements UdpRelay {
  readonly sendErrors = sendErrors;
  private readonly native: NativeRelay;
  private onPackets: ((batch: PacketBatch) => void) | undefined;

  constructor(Relay: NativeRelayClass, o: UdpRelayOptions, gso: boolean) {
    const s = buffers();
    const onDatagram = o.onDatagram;
    this.native = new Relay({
      fd: o.fd,
      family: o.family,
      ...(o.socks5 ? { socks5Address: o.socks5.address, socks5Port: o.socks5.port } : {}),
      gso,
      slab: s.slab,
      offsets: s.offsets,
      lengths: s.lengths,
      from: s.from,
      fromPorts: s.fromPorts,
      onRecv: (count, foreign, badReply) => {
        if (foreign > 0 || badReply > 0) o.onDrops?.(foreign, badReply);
        if (count === 0) return;
        const receiver = this.onPackets;
        if (receiver) {
          s.batch.count = count;
          receiver(s.batch);
          return;
        }
        for (let i = 0; i < count; i++) {
          const off = s.offsets[i]!;
          const p = s.fromPorts[i]!;
          const alen = p > 0xffff ? 16 : 4;
          onDatagram(
            s.slab.subarray(off, off + s.lengths[i]!),
            s.from.subarray(i * 16, i * 16 + alen),
            p & 0xffff,
          );
        }
      },
      onError: (errno) => o.onError(errno),
    });
  }

  get localPort(): number {
    return this.native.localPort;
  }

  get gsoSends(): number {
    return this.native.gsoSends;
  }

  send(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    dsts: Uint8Array,
    dports: Uint32Array,
    count: number,
    dstFamily: 4 | 6,
  ): number {
    return this.native.send(
      data,
      offsets,
      lengths,
      dsts,
      dports,
      count,
      dstFamily,
      sendErrors.index,
      sendErrors.code,
    );
  }

  replyTo(client: Uint8Array, clientPort: number, onPackets: (batch: PacketBatch) => void): void {
    this.native.replyTo(client, clientPort);
    this.onPackets = onPackets;
  }

  stats(): UdpRelayStats {
    const [sent, sentBytes, sendDrops, received, receivedBytes, foreign, badReply, gsoSends] =
      this.native.stats();
    return {
      sent: sent!,
      sentBytes: sentBytes!,
      sendDrops: sendDrops!,
      received: received!,
      receivedBytes: receivedBytes!,
      foreign: foreign!,
      badReply: badReply!,
      gsoSends: gsoSends!,
    };
  }

  close(): void {
    this.native.close();
  }
}

/**
 * The engine, or undefined when the addon does not load (or predates the UdpRelay): the stack then keeps
 * Node's dgram sockets. `gso: false` (ztun: ZTUN_UDP_GSO=0) sends every datagram as its own message instead
 * of grouping runs with UDP GSO (native/udp_send.h).
 */
export function loadUdpRelayEngine({ gso = true }: { gso?: boolean } = {}): UdpRelayEngine | undefined {
  let Relay: NativeRelayClass | undefined;
  try {
    Relay = (nativeAddon().exports as { UdpRelay?: NativeRelayClass }).UdpRelay;
  } catch {
    return undefined;
  }
  if (!Relay) return undefined;
  const R = Relay;
  return {
    // The native relay owns the fd from the call on: a failed construction has closed it.
    open: (o) => new LinuxUdpRelay(R, o, gso),
  };
}
