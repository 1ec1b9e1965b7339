import type { Pinning, StackSockets, UdpRelay, UdpRelayEngine } from '@ztun/packet';
import type { Endpoint, UdpSession, UdpSessionHandler } from './handler.js';
import { ownSockets, type UdpLoopListener } from './own-sockets.js';
import { bytesEqual, formatIp, parseIp } from './wire.js';

// A UDP session's socket as a batch-path relay (StackSockets.udpRelay, issue 17 item 4) instead of a Node
// dgram socket: the stack sends and receives through `handler.batch` a batch at a time (udp-batch.ts); the
// per-datagram send() and session.reply() still work through the same relay for wrappers that hide it.

/** One datagram at a time through a relay: reused arrays, the destination parsed once per change. */
class SingleSend {
  private readonly offsets = new Uint32Array(1);
  private readonly lengths = new Uint32Array(1);
  private readonly dsts = new Uint8Array(16);
  private readonly dports = new Uint32Array(1);
  private lastText = '';
  private lastFamily: 4 | 6 = 4;

  /** Sends `payload` to `destination`; returns the errno of a failure other than a full buffer, else 0. */
  send(relay: UdpRelay, payload: Uint8Array, destination: Endpoint): number {
    if (destination.address !== this.lastText) {
      const b = parseIp(destination.address);
      if (!b) return 0;
      this.dsts.fill(0);
      this.dsts.set(b);
      this.lastFamily = b.length === 4 ? 4 : 6;
      this.lastText = destination.address;
    }
    this.lengths[0] = payload.length;
    this.dports[0] = destination.port;
    const data = new Uint8Array(payload.buffer, payload.byteOffset, payload.length);
    const errors = relay.send(data, this.offsets, this.lengths, this.dsts, this.dports, 1, this.lastFamily);
    return errors > 0 ? relay.sendErrors.code[0]! : 0;
  }
}

export interface RelayedUdpOptions {
  engine: UdpRelayEngine;
  sockets: StackSockets;
  pin: Pinning;
  /** The socket's family (SOCKS5: the relay's; direct: the session's). */
  family: 4 | 6;
  /** SOCKS5 UDP ASSOCIATE: the relay the proxy named. */
  socks5?: { address: Uint8Array; port: number };
  onLoop: UdpLoopListener;
  /** A send failed with errno (not a full buffer). */
  onSendError(errno: number, destination: Endpoint): void;
}

/** The relay and the handler over it; throws a one-line error when no socket can be made (EMFILE…). */
export function openRelayedUdp(
  session: UdpSession,
  o: RelayedUdpOptions,
): UdpSessionHandler & { relay: UdpRelay } {
  const fd = o.sockets.createPinnedSocket(o.family, 'udp', o.pin);
  try {
    o.sockets.bindEphemeral(fd, o.family);
  } catch (err) {
    o.sockets.closeFd(fd);
    throw err;
  }
  let lastBytes: Uint8Array | undefined;
  let fromText = '';
  const relay = o.engine.open({
    fd,
    family: o.family,
    ...(o.socks5 ? { socks5: o.socks5 } : {}),
    onDatagram(payload, address, port) {
      // Until the stack takes the batch path (or for good behind a wrapper): one reply per datagram.
      if (
        !lastBytes ||
        lastBytes.length !== address.length ||
        !bytesEqual(address, 0, lastBytes, 0, address.length)
      ) {
        lastBytes = address.slice();
        fromText = formatIp(address, 0, address.length === 4 ? 4 : 6);
      }
      session.reply(payload, { address: fromText, port });
    },
    onDrops(foreign, badReply) {
      for (let i = 0; i < foreign; i++) session.drop('udpForeignSender');
      for (let i = 0; i < badReply; i++) session.drop('udpBadReply');
    },
    onError: () => session.close(),
  });
  const untrack = ownSockets.trackUdpPort(o.family, relay.localPort, o.onLoop);
  const single = new SingleSend();
  let closed = false;
  return {
    relay,
    batch: relay,
    send(payload, destination) {
      if (closed) return;
      const err = single.send(relay, payload, destination);
      if (err !== 0) o.onSendError(err, destination);
    },
    close() {
      if (closed) return;
      closed = true;
      untrack();
      relay.close();
    },
  };
}
