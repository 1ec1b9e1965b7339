import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { StackSockets } from '@ztun/packet';
import type { Handler, Outbound, TcpConnection } from './handler.js';
import { portableSockets } from './sockets.js';
import { endedByReset, resetTcpSocket } from './tcp-reset.js';

export interface OutboundHandlerOptions {
  /** Called with one line when an outbound connect fails (the client gets a RST). */
  onConnectError?(destination: string, err: Error): void;
  /**
   * Optional relay for a connected pair (e.g. a zero-copy splice(2) relay on Linux). Return true to take the
   * pair over — bytes both ways, half-close, and ending/resetting both sides are then its job; false to let
   * the handler pipe() as usual. Called once per connection, right after the outbound connected. A relay that
   * gives a taken pair back later (e.g. out of pipes) calls `pipe(client, upstream)`: the handler's own
   * piping, as if it had returned false. The handler keeps no listener, closure or timer of its own on a
   * taken pair (issue 17 item 2: an idle relayed connection holds only what the relay needs).
   */
  relay?(
    client: TcpConnection,
    upstream: Duplex,
    pipe: (client: TcpConnection, upstream: Duplex) => void,
  ): boolean;
  /**
   * The OS's socket options (linuxSockets from @ztun/tun-linux, loadDarwinSockets() from @ztun/tun-darwin): with
   * them a reset that libuv reported as an end is passed on as a reset (SO_ERROR) and an upstream whose FIN
   * is queued can still be reset (SO_LINGER). Default: portableSockets, which can do neither.
   */
  sockets?: StackSockets;
  /**
   * Once either side has ended (half-closed), the pair is reset after this long without a byte either way
   * (default 60 s; 0: never). Without it a connection whose other FIN never comes — a peer that vanished
   * after a mass close with packets dropped at the TUN — stays for the stack's idle timeout (an hour).
   * Applies to piped pairs; a pair taken by `relay` is the relay's.
   */
  halfClosedTimeoutMs?: number;
}

export const DEFAULT_HALF_CLOSED_TIMEOUT_MS = 60_000;

/** A client that fails before its upstream connected: the connect's result sees it destroyed. */
function ignoreError(): void {}

/**
 * A Handler that sends every TCP connection and UDP session to `outbound`: TCP bytes are piped both ways
 * with backpressure and half-close (or handed to `options.relay`); a refused/failed connect or a reset by the
 * far side resets the client.
 */
export function handlerFromOutbound(outbound: Outbound, options: OutboundHandlerOptions = {}): Handler {
  const sockets = options.sockets ?? portableSockets;
  const halfClosedMs = options.halfClosedTimeoutMs ?? DEFAULT_HALF_CLOSED_TIMEOUT_MS;
  const pipe = (conn: TcpConnection, r: Duplex) => pipePair(conn, r, sockets, halfClosedMs);
  return {
    // conn is read only once it is piped (pipe() resumes it) or handed to `relay`: bytes the client sent
    // while the outbound connected stay in the kernel for the relay (see Handler.acceptPaused).
    acceptPaused: true,
    tcp(conn: TcpConnection, info) {
      conn.on('error', ignoreError);
      outbound.connectTcp(info.destination, info).then(
        (r) => {
          if (conn.destroyed) {
            r.destroy();
            return;
          }
          if (options.relay?.(conn, r, pipe)) return;
          pipe(conn, r);
        },
        (err: Error) => {
          options.onConnectError?.(`${info.destination.address}:${info.destination.port}`, err);
          if (!conn.destroyed) conn.resetAndDestroy();
        },
      );
    },
    udp(session) {
      return outbound.openUdp(session);
    },
  };
}

/**
 * Pipes a connected pair both ways: each side's end passed on as an end (half-close) — unless it was a reset
 * that libuv reported as an end (see endedByReset): then the other side is reset too; an abrupt close of
 * either side ends the other; after the first end, `halfClosedMs` without a byte resets both.
 */
function pipePair(conn: TcpConnection, r: Duplex, sockets: StackSockets, halfClosedMs: number): void {
  r.on('error', () => {
    if (!conn.destroyed) conn.resetAndDestroy();
  });
  r.on('close', () => {
    // Graceful ends travel through pipe(); an abrupt close without end resets the client.
    if (!conn.destroyed && !conn.writableEnded) conn.resetAndDestroy();
  });
  conn.on('close', () => {
    // The client is gone: nothing more from upstream can be delivered. Let a FIN still being
    // flushed upstream finish first, then release the socket (a half-open upstream that keeps
    // sending — e.g. a download whose client vanished — would otherwise live forever).
    if (r.destroyed) return;
    if (r.writableEnded && !r.writableFinished) r.once('finish', () => r.destroy());
    else r.destroy();
  });
  conn.pipe(r, { end: false });
  r.pipe(conn, { end: false });
  let halfClosed = false;
  // Node's socket timeout is an inactivity timer (any read or write re-arms it): armed on both
  // sockets at the first end, either one firing means nothing moved either way for that long.
  const onHalfClosed = () => {
    if (halfClosed || halfClosedMs <= 0) return;
    halfClosed = true;
    const expire = () => {
      if (!conn.destroyed) conn.resetAndDestroy();
      if (!r.destroyed) r.destroy();
    };
    for (const s of [conn, r]) {
      if (s instanceof Socket) {
        s.setTimeout(halfClosedMs);
        s.once('timeout', expire);
      }
    }
  };
  r.once('end', onHalfClosed);
  conn.once('end', onHalfClosed);
  r.once('end', () => {
    if (conn.destroyed) return;
    if (endedByReset(r, sockets)) conn.resetAndDestroy();
    else conn.end();
  });
  conn.once('end', () => {
    if (r.destroyed) return;
    if (!endedByReset(conn, sockets)) r.end();
    else if (r instanceof Socket) resetTcpSocket(r, sockets);
    else r.destroy();
  });
}
