import type dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { SocksClient, type SocksClientOptions, type SocksProxy } from 'socks';

type SocksClientEstablishedEvent = Awaited<ReturnType<typeof SocksClient.createConnection>>;

import type { Pinning, StackSockets } from '@ztun/packet';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from './handler.js';
import { connectPinned, pinnedUdpSocket } from './outbound-direct.js';
import { portableSockets } from './sockets.js';
import { openRelayedUdp } from './udp-relayed.js';
import { parseIp } from './wire.js';

export interface Socks5OutboundOptions extends Pinning {
  /** The SOCKS5 server: an IP address, or a name (resolved by `resolveHost`; pinning applies either way). */
  host: string;
  /**
   * Turns the server's name into an address for each new connection/association. Default: the OS resolver
   * (getaddrinfo) every time — whose own queries may enter the tunnel; a caller that routes everything
   * through it passes a cache kept fresh off the tunnel instead.
   */
  resolveHost?: (host: string) => string | Promise<string>;
  port: number;
  /** Username/password authentication (RFC 1929); without them: no authentication. */
  username?: string;
  password?: string;
  /** Handshake + connect timeout (default 10 s). */
  timeoutMs?: number;
  /** The OS's socket options, needed for any pinning (see DirectOutboundOptions.sockets). */
  sockets?: StackSockets;
  /** A UDP ASSOCIATE failed (refused, or the proxy could not be reached): the session's datagrams are lost. */
  onUdpAssociateError?(err: Error): void;
  /** The proxy accepted a connection: the first one, or the first after it could not be reached (e.g. it
   *  was restarted). A caller that asks what the proxy can do asks again then. */
  onProxyBack?(): void;
}

const MAX_PENDING_DATAGRAMS = 64;

export function socksProxyOf(options: Socks5OutboundOptions): SocksProxy {
  return {
    host: options.host,
    port: options.port,
    type: 5,
    userId: options.username,
    password: options.password,
  };
}

/** The proxy's IP address: a name goes through `resolveHost`, else the OS resolver, each time. */
export async function resolveProxyHost(options: Socks5OutboundOptions): Promise<string> {
  if (net.isIP(options.host)) return options.host;
  if (options.resolveHost) return await options.resolveHost(options.host);
  return (await lookup(options.host)).address;
}

export function pinningOf(options: Pinning): Pinning {
  return {
    mark: options.mark,
    bindToDevice: options.bindToDevice,
    boundInterfaceIndex: options.boundInterfaceIndex,
    ...(options.sourceAddress ? { sourceAddress: options.sourceAddress } : {}),
  };
}

/**
 * One SOCKS5 request (CONNECT or UDP ASSOCIATE) on the connected `existing` socket, through a SocksClient
 * instance rather than SocksClient.createConnection: socks 2.8's connect() starts a handshake timer it never
 * clears (socksclient.js: `setTimeout(() => this.onEstablishedTimeout(), timeout)`, only unref'd), and that
 * timer keeps the client — its socket, its options (existing_socket) and a 4 KiB ReceiveBuffer — alive for
 * `timeout` after the handshake. At 10 s and ~700 new connections/s that held ~5,000 finished connections
 * (~20 MB of receive buffers alone) after a burst (issue 17 item 2). Once established or failed the client
 * never reads those fields again (onEstablishedTimeout acts only before; closeSocket only once), so they are
 * dropped — after the setImmediate in which the client hands excess handshake bytes to the socket.
 */
function socksRequest(req: SocksClientOptions, existing: net.Socket): Promise<SocksClientEstablishedEvent> {
  return new Promise<SocksClientEstablishedEvent>((resolve, reject) => {
    const client = new SocksClient(req);
    const release = () =>
      setImmediate(() => {
        const internals = client as unknown as Record<string, unknown>;
        internals.socket = undefined;
        internals.receiveBuffer = undefined;
        internals.options = undefined;
      });
    client.once('established', (info) => {
      client.removeAllListeners();
      release();
      resolve(info);
    });
    client.once('error', (err) => {
      client.removeAllListeners();
      release();
      reject(err);
    });
    client.connect(existing);
  });
}

/**
 * Sends TCP through SOCKS5 CONNECT and UDP through SOCKS5 UDP ASSOCIATE (one association per client UDP
 * session). Pinning (mark / bindToDevice) applies to the sockets that reach the proxy, so a proxy address
 * inside a tunnelled prefix does not loop.
 */
export function socks5Outbound(options: Socks5OutboundOptions): Outbound {
  const proxy = socksProxyOf(options);
  const pin = pinningOf(options);
  const sockets = options.sockets ?? portableSockets;
  const timeout = options.timeoutMs ?? 10_000;

  const proxyAddress = () => resolveProxyHost(options);
  /** The proxy given as an IP address: used as it is, with no resolving step per connection. */
  const fixedAddress = net.isIP(options.host) ? options.host : undefined;
  /** The last attempt to reach the proxy failed (or there was none yet): the next success means it is back. */
  let unreachable = true;

  async function reachProxy(address: string): Promise<net.Socket> {
    try {
      const socket = await connectPinned({ address, port: options.port }, pin, timeout, sockets);
      if (unreachable) {
        unreachable = false;
        options.onProxyBack?.();
      }
      return socket;
    } catch (err) {
      unreachable = true;
      throw err;
    }
  }

  async function open(command: 'connect' | 'associate', destination: Endpoint, address: string) {
    // The connection to the proxy is made (and pinned) here and handed to the socks client.
    const existing = await reachProxy(address);
    // The socket allows half-open: a proxy that answers a request with FIN (ssh -D to UDP ASSOCIATE) must
    // fail the handshake at once rather than at its timeout. Once established, a FIN is the stream's own.
    const endedEarly = () => existing.destroy();
    existing.once('end', endedEarly);
    const req: SocksClientOptions = {
      proxy,
      command,
      destination: { host: destination.address, port: destination.port },
      timeout,
      existing_socket: existing,
      set_tcp_nodelay: true,
    };
    try {
      const info = await socksRequest(req, existing);
      existing.off('end', endedEarly);
      return info;
    } catch (err) {
      existing.destroy();
      throw err;
    }
  }

  return {
    name: 'socks5',
    async connectTcp(destination): Promise<Duplex> {
      const info = await open('connect', destination, fixedAddress ?? (await proxyAddress()));
      return info.socket;
    },
    openUdp(session: UdpSession): UdpSessionHandler {
      let closed = false;
      let control: net.Socket | undefined;
      let udp: dgram.Socket | undefined;
      /** The batch path's relay (StackSockets.udpRelay) in place of `udp`, once associated. */
      let relayed: UdpSessionHandler | undefined;
      let relay: Endpoint | undefined;
      let relayBytes: Uint8Array | undefined;
      /** The relay's address as the socket reports senders (learnt on the first match). */
      let relayText = '';
      let lastDestination: Endpoint | undefined;
      const pending: Array<[Uint8Array, Endpoint]> = [];
      // RFC 1928 §7: the client must drop datagrams from anyone but the relay the proxy named; the address
      // inside a frame is whatever the sender wrote.
      const fromRelay = (address: string, port: number): boolean => {
        if (port !== relay!.port) return false;
        if (address === relayText) return true;
        const b = parseIp(address);
        if (!b || !relayBytes || b.length !== relayBytes.length || !b.every((x, i) => x === relayBytes![i]))
          return false;
        relayText = address;
        return true;
      };
      const sendFrame = (payload: Uint8Array, destination: Endpoint) => {
        lastDestination = destination;
        const frame = SocksClient.createUDPFrame({
          remoteHost: { host: destination.address, port: destination.port },
          data: Buffer.from(payload.buffer, payload.byteOffset, payload.length),
        });
        udp!.send(frame, relay!.port, relay!.address);
      };
      const any = session.family === 4 ? '0.0.0.0' : '::';
      let proxyIp = '';
      proxyAddress()
        .then((address) => {
          proxyIp = address;
          return open('associate', { address: any, port: 0 }, address);
        })
        .then(
          (info) => {
            const ctl = info.socket as net.Socket;
            control = ctl;
            if (closed) {
              ctl.destroy();
              return;
            }
            let host = info.remoteHost?.host;
            if (!host || host === '0.0.0.0' || host === '::' || /^[0:]+$/.test(host)) host = proxyIp;
            relay = { address: host, port: info.remoteHost!.port };
            relayBytes = parseIp(host);
            const family = relayBytes?.length === 16 ? 6 : 4;
            const onLoop = () => {
              // The frames to the relay came back into the TUN: the proxy is routed through it.
              if (lastDestination) session.unreachable(lastDestination, 'prohibited');
            };
            if (sockets.udpRelay && relayBytes) {
              try {
                relayed = openRelayedUdp(session, {
                  engine: sockets.udpRelay,
                  sockets,
                  pin,
                  family,
                  socks5: { address: relayBytes, port: relay.port },
                  onLoop,
                  onSendError: () => session.close(), // as the dgram socket's 'error' below
                });
              } catch {
                session.close();
                return;
              }
              ctl.on('error', () => session.close());
              ctl.on('close', () => session.close());
              for (const [p, d] of pending) relayed.send(p, d);
              pending.length = 0;
              return;
            }
            try {
              udp = pinnedUdpSocket(family, pin, onLoop, sockets);
            } catch {
              session.close(); // no socket (EMFILE…): the session ends like a failed association
              return;
            }
            udp.on('message', (msg, rinfo) => {
              if (!fromRelay(rinfo.address, rinfo.port)) {
                session.drop('udpForeignSender');
                return;
              }
              // RFC 1928 §7: a fragment (FRAG ≠ 0) is dropped, as is a domain name (no packet source).
              if (msg.length < 4 || msg[2] !== 0 || msg[3] === 3) return;
              try {
                const frame = SocksClient.parseUDPFrame(msg);
                session.reply(frame.data, { address: frame.remoteHost.host, port: frame.remoteHost.port });
              } catch {
                // not a SOCKS5 UDP frame: ignore
              }
            });
            udp.on('error', () => session.close());
            ctl.on('error', () => session.close());
            ctl.on('close', () => session.close());
            for (const [p, d] of pending) sendFrame(p, d);
            pending.length = 0;
          },
          (err: Error) => {
            if (!closed) options.onUdpAssociateError?.(err);
            for (const [, d] of pending) session.unreachable(d, 'host');
            pending.length = 0;
            session.close();
          },
        );
      return {
        get batch() {
          return relayed?.batch;
        },
        send(payload, destination) {
          if (closed) return;
          if (relayed) {
            lastDestination = destination;
            relayed.send(payload, destination);
            return;
          }
          if (!relay) {
            if (pending.length < MAX_PENDING_DATAGRAMS) pending.push([payload, destination]);
            return;
          }
          sendFrame(payload, destination);
        },
        close() {
          if (closed) return;
          closed = true;
          control?.destroy();
          udp?.close();
          relayed?.close();
        },
      };
    },
  };
}
