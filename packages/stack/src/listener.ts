import net from 'node:net';
import type { StackSockets } from '@ztun/packet';
import type { Handler, TcpConnection } from './handler.js';
import type { StackCounters, StackLogger } from './options.js';
import type { Family } from './packet-context.js';
import { resetTcpSocket } from './tcp-reset.js';
import { bytesEqual, formatIp, parseIp } from './wire.js';

// The kernel TCP listener of one family, on the TUN's address: every NAT'd client flow arrives here, and
// its remote port (the NAT port) gives back the flow's original source and destination for the handler.

/** An IPv6 address still in duplicate address detection is not bindable yet: how long bind is retried. */
const BIND_RETRY_MS = 3000;
const BIND_RETRY_INTERVAL_MS = 100;

export interface ListenerOptions {
  handler: Handler;
  sockets: StackSockets;
  counters: StackCounters;
  logger: StackLogger;
  backlog: number;
  /** True once the stack is closing: late accepts are reset. */
  closing: () => boolean;
}

/**
 * Binds the listener of `f` on its TUN address (port chosen by the kernel, written to f.listenPort).
 * EADDRNOTAVAIL (IPv6 DAD, RFC 4862 §5.4) is retried for up to 3 s; then, or on any other error, it throws
 * one line.
 */
export async function listen(f: Family, options: ListenerOptions): Promise<net.Server> {
  const server = net.createServer({
    allowHalfOpen: true,
    noDelay: true,
    pauseOnConnect: options.handler.acceptPaused === true,
  });
  const perSocket = sharedPerSocket(f, options);
  server.on('connection', (sock) => accept(f, sock, options, perSocket));
  server.on('error', (err) => options.logger.error?.(`ipv${f.v} listener: ${err.message}`));
  const deadline = performance.now() + BIND_RETRY_MS;
  for (;;) {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const onError = (e: NodeJS.ErrnoException) => resolve(e);
      server.once('error', onError);
      server.listen({ host: f.tunText, port: 0, backlog: options.backlog }, () => {
        server.off('error', onError);
        resolve(undefined);
      });
    });
    if (!err) break;
    if (err.code !== 'EADDRNOTAVAIL' || performance.now() > deadline)
      throw new Error(`cannot listen on ${f.tunText} (is it configured on the TUN?): ${err.message}`);
    await new Promise((r) => setTimeout(r, BIND_RETRY_INTERVAL_MS));
  }
  f.listenPort = (server.address() as net.AddressInfo).port;
  options.logger.debug?.(`ipv${f.v} listener on ${f.tunText}:${f.listenPort}, NAT address ${f.natText}`);
  return server;
}

/** The NAT port of an accepted socket, for its 'close' listener. */
const kNatPort = Symbol('ztun.natPort');
type Accepted = net.Socket & { [kNatPort]?: number };

/**
 * What every accepted socket of one listener gets: made once per listener, with the socket as `this`, so an
 * idle connection holds no closure of its own (issue 17 item 2).
 */
interface PerSocket {
  resetAndDestroy(this: net.Socket): net.Socket;
  onClose(this: Accepted): void;
}

function sharedPerSocket(f: Family, options: ListenerOptions): PerSocket {
  const t = f.table;
  const counters = options.counters;
  return {
    // Handlers (and the stack) reset through this; Node's own fails while a FIN is queued (see tcp-reset.ts).
    resetAndDestroy(this: net.Socket) {
      resetTcpSocket(this, options.sockets);
      return this;
    },
    onClose(this: Accepted) {
      if (t.socketClosed(this[kNatPort] ?? 0, this, performance.now())) counters.tcpOpen--;
    },
  };
}

/** An accepted connection: from the NAT address and an embryonic NAT port, else reset (tcpUnmappedAccept). */
function accept(f: Family, sock: Accepted, options: ListenerOptions, perSocket: PerSocket): void {
  const t = f.table;
  const counters = options.counters;
  const port = sock.remotePort ?? 0;
  const remoteText = sock.remoteAddress;
  // Node formats the peer with inet_ntop, as natText is: equal text is the common case, bytes decide the rest.
  let fromNat = remoteText === f.natText;
  if (!fromNat && remoteText) {
    const remote = parseIp(remoteText);
    fromNat = remote !== undefined && remote.length === f.alen && bytesEqual(remote, 0, f.nat, 0, f.alen);
  }
  if (options.closing() || !fromNat || !t.accept(port, sock)) {
    counters.drops.tcpUnmappedAccept++;
    sock.resetAndDestroy();
    return;
  }
  sock.resetAndDestroy = perSocket.resetAndDestroy;
  counters.tcpOpen++;
  const base = port * 16;
  const info = {
    family: f.v,
    source: { address: formatIp(t.src, base, f.v), port: t.sport[port]! },
    destination: { address: formatIp(t.dst, base, f.v), port: t.dport[port]! },
  };
  sock[kNatPort] = port;
  sock.on('close', perSocket.onClose);
  try {
    options.handler.tcp(sock as TcpConnection, info);
  } catch (err) {
    options.logger.warn?.(`tcp handler threw: ${(err as Error).message}`);
    sock.resetAndDestroy();
  }
}
