import type { Handler, TcpConnection } from '@ztun/stack';

// Shutdown that clients notice: reset every open TCP connection while the stack is still running, so each
// RST is NATed back through the TUN to its client. (Closing the stack first would drop them with the
// device, and clients would wait forever on connections that no longer exist.)

export interface TrackedHandler extends Handler {
  /** Open TCP connections right now. */
  readonly openTcp: number;
  /** Resets every open TCP connection (the clients see RST). */
  resetAll(): void;
}

export function trackingHandler(inner: Handler): TrackedHandler {
  const open = new Set<TcpConnection>();
  return {
    tcp(conn, info) {
      open.add(conn);
      conn.once('close', () => open.delete(conn));
      inner.tcp(conn, info);
    },
    udp: (session) => inner.udp(session),
    ...(inner.icmpEcho ? { icmpEcho: inner.icmpEcho.bind(inner) } : {}),
    get openTcp() {
      return open.size;
    },
    resetAll() {
      for (const conn of open) {
        if (!conn.destroyed) conn.resetAndDestroy();
      }
    },
  };
}
