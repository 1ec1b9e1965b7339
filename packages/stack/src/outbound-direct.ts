import dgram from 'node:dgram';
import net from 'node:net';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Pinning, StackSockets } from '@ztun/packet';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from './handler.js';
import { ownSockets, type UdpLoopListener } from './own-sockets.js';
import { hasPinning, portableSockets, sourceAddressFor } from './sockets.js';
import { openRelayedUdp } from './udp-relayed.js';
import { parseIp } from './wire.js';

export interface DirectOutboundOptions extends Pinning {
  /** Give up on a TCP connect after this long (default 10 s); the client then gets a RST. */
  connectTimeoutMs?: number;
  /**
   * The OS's socket options (linuxSockets from @ztun/tun-linux, loadDarwinSockets() from @ztun/tun-darwin); needed
   * for any pinning. Default: portableSockets, which rejects every connect that asks for pinning.
   */
  sockets?: StackSockets;
}

/**
 * Node's `lookup` for a connect whose host is an IP literal: net.Socket never calls it then (it checks isIP
 * first), so it exists only to make sure no name is ever resolved here — getaddrinfo's own queries could
 * enter the tunnel, and a lookup per connection is work a flow to an address does not need.
 */
export const refuseLookup: net.LookupFunction = (hostname, _options, callback) => {
  callback(new Error(`not an IP address: ${hostname}`), '', 0);
};

/** Opens a TCP connection to `dest` from a pinned socket (or a plain one when no pinning is given). */
export function connectPinned(
  dest: Endpoint,
  pin: Pinning,
  timeoutMs: number,
  sockets: StackSockets,
): Promise<net.Socket> {
  const family = net.isIP(dest.address);
  if (family === 0) return Promise.reject(new Error(`not an IP address: ${dest.address}`));
  let sock: net.Socket;
  let localAddress: string | undefined;
  try {
    localAddress = sourceAddressFor(pin, family as 4 | 6);
  } catch (err) {
    return Promise.reject(err);
  }
  if (hasPinning(pin)) {
    let fd: number;
    try {
      fd = sockets.createPinnedSocket(family as 4 | 6, 'tcp', pin); // EMFILE, EPERM on SO_MARK…: a rejection, not a throw
    } catch (err) {
      return Promise.reject(err);
    }
    try {
      sock = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    } catch (err) {
      sockets.closeFd(fd);
      return Promise.reject(err);
    }
  } else {
    sock = new net.Socket({ allowHalfOpen: true });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect to ${dest.address}:${dest.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.once('error', onError);
    const target: net.TcpSocketConnectOpts = { host: dest.address, port: dest.port, lookup: refuseLookup };
    if (localAddress) target.localAddress = localAddress;
    sock.connect(target, () => {
      clearTimeout(timer);
      sock.off('error', onError);
      sock.setNoDelay(true);
      resolve(sock);
    });
    // Node issues connect(2) for an IP address on the next tick; right after it the local port is known, and
    // the stack can tell this connection if a route sends it back into the TUN (see own-sockets.ts).
    const remote = parseIp(dest.address)!;
    process.nextTick(() => ownSockets.trackTcp(sock, family as 4 | 6, remote, dest.port));
  });
}

/**
 * A UDP socket of `family`, pinned when asked, bound (or binding) to a port that is its alone: no
 * SO_REUSEADDR, so no other socket — another session's included — can receive its replies. `onLoop` hears
 * when the stack finds one of its datagrams coming back into the TUN.
 */
export function pinnedUdpSocket(
  family: 4 | 6,
  pin: Pinning,
  onLoop: UdpLoopListener,
  sockets: StackSockets,
): dgram.Socket {
  const type = family === 4 ? 'udp4' : 'udp6';
  let sock: dgram.Socket;
  if (hasPinning(pin)) {
    const fd = sockets.createPinnedSocket(family, 'udp', pin);
    try {
      // Bound to a port of its own before Node adopts it: libuv's uv_udp_open sets SO_REUSEADDR (SO_REUSEPORT
      // on macOS) on an adopted fd, and two such sockets that bind only at their first send may be given the
      // same port, so one session's replies reach another session.
      sockets.bindEphemeral(fd, family);
      sock = dgram.createSocket(type);
    } catch (err) {
      sockets.closeFd(fd);
      throw err;
    }
    try {
      sock.bind({ fd });
    } catch (err) {
      sock.close();
      sockets.closeFd(fd);
      throw err;
    }
    // libuv set SO_REUSEADDR when it adopted the fd: clear it, or a later socket could share the port.
    sockets.clearReuse(fd);
  } else {
    const address = sourceAddressFor(pin, family);
    sock = dgram.createSocket(type);
    sock.bind({ port: 0, ...(address ? { address } : {}) }); // libuv binds without SO_REUSEADDR unless asked
  }
  ownSockets.trackUdp(sock, family, onLoop);
  return sock;
}

const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ECONNREFUSED', 'EADDRNOTAVAIL']);

/** The same errors by number, from the batch path's relay. */
export function unreachableFor(errno: number): 'port' | 'host' | undefined {
  const e = constants.errno;
  if (errno === e.ECONNREFUSED) return 'port';
  if (errno === e.EHOSTUNREACH || errno === e.ENETUNREACH || errno === e.EADDRNOTAVAIL) return 'host';
  return undefined;
}

/**
 * Connects to the original destination directly, from sockets that cannot loop back into the TUN (pinned
 * through `options.sockets`: SO_MARK / SO_BINDTODEVICE on Linux, IP_BOUND_IF on macOS).
 */
export function directOutbound(options: DirectOutboundOptions = {}): Outbound {
  const pin: Pinning = {
    mark: options.mark,
    bindToDevice: options.bindToDevice,
    boundInterfaceIndex: options.boundInterfaceIndex,
    ...(options.sourceAddress ? { sourceAddress: options.sourceAddress } : {}),
  };
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const sockets = options.sockets ?? portableSockets;
  return {
    name: 'direct',
    connectTcp(destination): Promise<Duplex> {
      return connectPinned(destination, pin, timeoutMs, sockets);
    },
    openUdp(session: UdpSession): UdpSessionHandler {
      const engine = sockets.udpRelay;
      if (engine) {
        // The batch path (issue 17 item 4): the session's socket is a relay the stack drives a batch at a time.
        return openRelayedUdp(session, {
          engine,
          sockets,
          pin,
          family: session.family,
          onLoop: (destination) => session.unreachable(destination, 'prohibited'),
          onSendError(errno, destination) {
            const reason = unreachableFor(errno);
            if (reason) session.unreachable(destination, reason);
          },
        });
      }
      const sock = pinnedUdpSocket(
        session.family,
        pin,
        (destination) => session.unreachable(destination, 'prohibited'),
        sockets,
      );
      let closed = false;
      sock.on('message', (msg, rinfo) => session.reply(msg, { address: rinfo.address, port: rinfo.port }));
      sock.on('error', () => session.close());
      return {
        send(payload, destination) {
          if (closed) return;
          sock.send(payload, destination.port, destination.address, (err) => {
            const code = (err as NodeJS.ErrnoException | null)?.code;
            if (code && UNREACHABLE_CODES.has(code))
              session.unreachable(destination, code === 'ECONNREFUSED' ? 'port' : 'host');
          });
        },
        close() {
          if (closed) return;
          closed = true;
          sock.close();
        },
      };
    },
  };
}
