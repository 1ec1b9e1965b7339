import type { Duplex } from 'node:stream';
import type { Endpoint } from './handler.js';

// DNS over TCP as a client (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its length as two
// bytes; one connection per resolver is kept open and reused, and queries are pipelined on it (sent without
// waiting for earlier answers; answers may come back in any order, RFC 7766 §6.2.1.1), matched by message ID.
// Queries from many clients share a connection, so each gets an ID unique on that connection and its own
// ID back in the answer. OS-free: the connection comes from `connect` (an outbound's connectTcp).

export type DnsTcpErrorKind = 'timeout' | 'connect' | 'closed' | 'busy' | 'invalid';

export class DnsTcpError extends Error {
  override readonly name = 'DnsTcpError';
  constructor(
    message: string,
    readonly kind: DnsTcpErrorKind,
  ) {
    super(message);
  }
}

export interface DnsTcpClientOptions {
  /** Opens a TCP connection to the resolver (through the proxy). */
  connect(resolver: Endpoint): Promise<Duplex>;
  /** How long a query waits for its answer, connecting included (default 5 s: dig's and glibc's per try). */
  queryTimeoutMs?: number;
  /**
   * A connection with nothing in flight is closed after this long (default 10 s). RFC 7766 §6.2.3: clients
   * should close idle connections rather than leave it to the server; a few seconds' reuse covers the bursts
   * (A + AAAA, a page's names) that make reuse worthwhile.
   */
  idleTimeoutMs?: number;
  /** Queries in flight per connection before new ones are refused (default 256). */
  maxInFlight?: number;
}

export interface DnsTcpCounters {
  /** TCP connections opened to resolvers. */
  connections: number;
  queries: number;
  answers: number;
  timeouts: number;
  /** Queries that failed because the connection could not be made or closed before the answer. */
  failures: number;
}

interface Pending {
  readonly query: Uint8Array;
  readonly resolve: (answer: Uint8Array) => void;
  readonly reject: (err: DnsTcpError) => void;
  readonly timer: NodeJS.Timeout;
  id: number;
  sentAt: number;
  /** Already resent once after its connection closed. */
  retried: boolean;
}

const MAX_MESSAGE = 0xffff;
const keyOf = (e: Endpoint) => `${e.address}|${e.port}`;

class Connection {
  socket: Duplex | undefined;
  closed = false;
  readonly pending = new Map<number, Pending>();
  /** Queries waiting for the connection to be made (also in `pending`, which holds their IDs). */
  private readonly queued: Pending[] = [];
  private nextId = Math.floor(Math.random() * 0x10000);
  private rx: Buffer = Buffer.alloc(0);
  private lastRxAt = 0;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: DnsTcpClient,
    readonly key: string,
    readonly resolver: Endpoint,
  ) {
    client.counters.connections++;
    client.options.connect(resolver).then(
      (socket) => {
        if (this.closed) {
          socket.destroy();
          return;
        }
        this.socket = socket;
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        socket.on('error', () => this.close(true));
        socket.on('close', () => this.close(true));
        // The server closing its side (idle timeout, RFC 7766 §6.2.3) ends the connection for us too.
        socket.on('end', () => this.close(true));
        for (const p of this.queued.splice(0)) this.write(p);
      },
      (err: Error) => {
        const e = new DnsTcpError(`connect: ${err.message}`, 'connect');
        this.close(false, e);
      },
    );
  }

  get inFlight(): number {
    return this.pending.size;
  }

  add(p: Pending): void {
    clearTimeout(this.idle);
    this.idle = undefined;
    p.id = this.allocateId();
    this.pending.set(p.id, p);
    if (this.socket) this.write(p);
    else this.queued.push(p);
  }

  /** Takes a query out (timed out): no answer will be delivered for it. */
  remove(p: Pending): void {
    if (this.pending.get(p.id) === p) this.pending.delete(p.id);
    const i = this.queued.indexOf(p);
    if (i >= 0) this.queued.splice(i, 1);
    // Nothing at all came back since this query went out: the connection (or the path through the proxy)
    // is likely dead; the next query gets a fresh one.
    if (this.socket && this.lastRxAt < p.sentAt && this.pending.size > 0) this.close(true);
    else this.armIdle();
  }

  private allocateId(): number {
    for (let i = 0; i < 0x10000; i++) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(id)) return id;
    }
    throw new DnsTcpError('no free message ID', 'busy'); // unreachable below maxInFlight
  }

  private write(p: Pending): void {
    const frame = Buffer.allocUnsafe(2 + p.query.length);
    frame.writeUInt16BE(p.query.length, 0);
    frame.set(p.query, 2);
    frame.writeUInt16BE(p.id, 2);
    p.sentAt = performance.now();
    this.socket!.write(frame);
  }

  private onData(chunk: Buffer): void {
    this.lastRxAt = performance.now();
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
    while (this.rx.length >= 2) {
      const len = this.rx.readUInt16BE(0);
      if (this.rx.length < 2 + len) break;
      const message = Buffer.from(this.rx.subarray(2, 2 + len));
      this.rx = this.rx.subarray(2 + len);
      if (len < 12) continue; // shorter than a DNS header: not an answer to anything
      const p = this.pending.get(message.readUInt16BE(0));
      if (!p) continue; // an answer to a query that timed out
      this.pending.delete(p.id);
      clearTimeout(p.timer);
      message.set(p.query.subarray(0, 2), 0); // the client's own ID
      this.client.counters.answers++;
      p.resolve(message);
    }
    this.armIdle();
  }

  private armIdle(): void {
    if (this.closed || this.inFlight > 0 || this.idle) return;
    this.idle = setTimeout(() => this.close(false), this.client.idleTimeoutMs);
    this.idle.unref?.();
  }

  /**
   * Ends the connection. Queries still waiting are sent once more on a fresh connection when `retry` (a
   * reused connection the server closed, RFC 7766 §6.2.1), else fail with `err`.
   */
  close(retry: boolean, err = new DnsTcpError('connection closed before the answer', 'closed')): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    this.socket?.destroy();
    this.client.forget(this);
    const left = [...this.pending.values()];
    this.pending.clear();
    this.queued.length = 0;
    for (const p of left) {
      if (retry && !p.retried && !this.client.isClosed) {
        p.retried = true;
        this.client.enqueue(this.resolver, p);
      } else {
        clearTimeout(p.timer);
        this.client.counters.failures++;
        p.reject(err);
      }
    }
  }
}

export class DnsTcpClient {
  readonly counters: DnsTcpCounters = { connections: 0, queries: 0, answers: 0, timeouts: 0, failures: 0 };
  readonly idleTimeoutMs: number;
  private readonly conns = new Map<string, Connection>();
  private closed = false;

  constructor(readonly options: DnsTcpClientOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Connections open or being opened. */
  get connectionCount(): number {
    return this.conns.size;
  }

  /**
   * Sends one DNS message (as it would go over UDP, no length prefix) to `resolver` over TCP; resolves with
   * the answer carrying the query's own ID. Rejects with a DnsTcpError.
   */
  query(resolver: Endpoint, message: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new DnsTcpError('client closed', 'closed'));
    if (message.length < 12 || message.length > MAX_MESSAGE)
      return Promise.reject(new DnsTcpError(`not a DNS message (${message.length} bytes)`, 'invalid'));
    this.counters.queries++;
    const key = keyOf(resolver);
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.queryTimeoutMs ?? 5000;
      const p: Pending = {
        query: message,
        resolve,
        reject,
        id: 0,
        sentAt: performance.now(),
        retried: false,
        timer: setTimeout(() => {
          this.counters.timeouts++;
          this.conns.get(key)?.remove(p);
          reject(new DnsTcpError(`no answer within ${timeoutMs} ms`, 'timeout'));
        }, timeoutMs),
      };
      p.timer.unref?.();
      this.enqueue(resolver, p);
    });
  }

  /** @internal */
  enqueue(resolver: Endpoint, p: Pending): void {
    const key = keyOf(resolver);
    let conn = this.conns.get(key);
    if (conn && conn.inFlight >= (this.options.maxInFlight ?? 256)) {
      clearTimeout(p.timer);
      this.counters.failures++;
      p.reject(new DnsTcpError('too many queries in flight', 'busy'));
      return;
    }
    if (!conn) {
      conn = new Connection(this, key, resolver);
      this.conns.set(key, conn);
    }
    conn.add(p);
  }

  /** @internal */
  forget(conn: Connection): void {
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
  }

  /** Closes every connection; queries in flight fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns.values()]) c.close(false, new DnsTcpError('client closed', 'closed'));
  }
}
