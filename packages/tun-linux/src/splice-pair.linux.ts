import type { Socket } from 'node:net';
import { errnoName } from './errors.js';
import {
  type FdHolder,
  holdFd,
  releaseFd,
  resumeReading,
  socketFd,
  stopReading,
} from './node-socket-internals.js';
import type { NativeSpliceRelay, SplicedPair, SpliceRelayResult } from './splice.linux.js';

// One pair handed to the splice relay (splice.linux.ts). An idle relayed connection keeps only this object
// besides its two sockets (issue 17 item 2): no closure, promise or timer per pair — the sockets get shared
// functions (`_read`, `readStart`, `_destroy`, an 'error' listener) and find their pair through holdFd, the
// relay's report finds it by id, and `done` is a promise only when someone asks for it.

/** Pairs the relay thread runs, by the id it gave them (its report names the id). */
export const running = new Map<number, RelayPair>();

/** After the hand-over every error goes through destroy(), which the pair holds (holdFd): nothing to do here. */
function ignoreError(): void {}

export class RelayPair implements SplicedPair, FdHolder {
  private id = 0;
  private cancelled = false;
  private bufferedAtoB = 0;
  private bufferedBtoA = 0;
  private result: SpliceRelayResult | undefined;
  private promise: Promise<SpliceRelayResult> | undefined;
  private resolvePromise: ((r: SpliceRelayResult) => void) | undefined;
  /** Destroys held back until the relay let go of the fds (holdFd). */
  private proceedA: (() => void) | undefined;
  private proceedB: (() => void) | undefined;
  private onAbort: (() => void) | undefined;

  constructor(
    private readonly native: NativeSpliceRelay,
    private readonly a: Socket,
    private readonly b: Socket,
    private readonly pipeSize: number,
    private readonly signal: AbortSignal | undefined,
    private readonly onDone: ((result: SpliceRelayResult) => void) | undefined,
    private readonly onFallback: ((a: Socket, b: Socket) => void) | undefined,
  ) {}

  get done(): Promise<SpliceRelayResult> {
    if (!this.promise) {
      const settled = this.result;
      this.promise = settled
        ? Promise.resolve(settled)
        : new Promise((resolve) => {
            this.resolvePromise = resolve;
          });
    }
    return this.promise;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    // Before the hand-over the sockets are ours to close; after it their fds are held open (holdFd) until
    // the relay reports the pair, and only then destroyed.
    if (this.id === 0)
      this.finish({ bytesAtoB: this.bufferedAtoB, bytesBtoA: this.bufferedBtoA, reason: 'cancelled' });
    else this.native.cancel(this.id);
  }

  /** Stops Node reading both sockets and hands them over once what Node queued is in the kernel. */
  start(refusal: () => number): void {
    const { a, b, signal } = this;
    a.on('error', ignoreError);
    b.on('error', ignoreError);
    holdFd(a, this);
    holdFd(b, this);
    if (signal) {
      this.onAbort = () => this.cancel();
      signal.addEventListener('abort', this.onAbort, { once: true });
      if (signal.aborted) {
        this.cancel();
        return;
      }
    }
    stopReading(a, refusal);
    stopReading(b, refusal);
    const fromA = takeBuffered(a);
    const fromB = takeBuffered(b);
    this.bufferedAtoB = fromA?.length ?? 0;
    this.bufferedBtoA = fromB?.length ?? 0;
    // Splicing must start only once everything Node queued for a socket is in the kernel, or bytes reorder.
    // (On a microtask even then, as before: a caller may still adjust the process in this tick.)
    if (!fromA && !fromB && a.writableLength === 0 && b.writableLength === 0)
      queueMicrotask(() => this.handOver());
    else
      Promise.all([flushed(b, fromA), flushed(a, fromB)]).then(
        () => this.handOver(),
        () => this.cancel(),
      );
  }

  /** holdFd: someone destroyed a socket. Before the hand-over it goes through; after it, once the relay let go. */
  destroyWhileHeld(socket: Socket, proceed: () => void): void {
    if (this.id === 0) {
      releaseFd(socket);
      proceed();
    } else if (socket === this.a) this.proceedA = proceed;
    else this.proceedB = proceed;
    this.cancel();
  }

  private handOver(): void {
    if (this.cancelled) return;
    const { a, b } = this;
    if (a.destroyed || b.destroyed) {
      this.cancel();
      return;
    }
    try {
      this.id = this.native.add(socketFd(a), socketFd(b), this.pipeSize);
    } catch (err) {
      // Out of fds or pipe quota: the connection itself is fine, so carry it through Node streams.
      const e = err as Error & { errno?: number };
      this.cancelled = true;
      releaseFd(a);
      releaseFd(b);
      resumeReading(a);
      resumeReading(b);
      this.fallBack();
      this.settle({
        bytesAtoB: this.bufferedAtoB,
        bytesBtoA: this.bufferedBtoA,
        reason: 'fallback',
        cause: 'relay-refused',
        ...(e.errno !== undefined ? { errno: e.errno, code: errnoName(e.errno) } : {}),
      });
      return;
    }
    running.set(this.id, this);
  }

  /** The pipes both ways through Node streams: the caller's own (onFallback), else plain pipe(). */
  fallBack(): void {
    const { a, b } = this;
    if (this.onFallback) this.onFallback(a, b);
    else {
      a.pipe(b);
      b.pipe(a);
    }
  }

  /** The relay thread's report for this pair: the fds are free, held destroys go on, the sockets end. */
  report(reason: number, side: number, errno: number, bytesAtoB: number, bytesBtoA: number): void {
    running.delete(this.id);
    releaseFd(this.a);
    releaseFd(this.b);
    const pa = this.proceedA;
    const pb = this.proceedB;
    this.proceedA = this.proceedB = undefined;
    pa?.();
    pb?.();
    this.finish({
      bytesAtoB: bytesAtoB + this.bufferedAtoB,
      bytesBtoA: bytesBtoA + this.bufferedBtoA,
      reason: reason === 0 ? 'eof' : reason === 1 ? 'error' : 'cancelled',
      ...(side === 0 ? { side: 'a' as const } : side === 1 ? { side: 'b' as const } : {}),
      ...(reason === 1 ? { errno, code: errnoName(errno) } : {}),
    });
  }

  private finish(result: SpliceRelayResult): void {
    releaseFd(this.a);
    releaseFd(this.b);
    endSockets(this.a, this.b, result);
    this.settle(result);
  }

  settle(result: SpliceRelayResult): void {
    this.result = result;
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.resolvePromise?.(result);
    this.resolvePromise = undefined;
    this.onDone?.(result);
  }
}

/** Whatever the stream has buffered but nobody consumed yet. */
function takeBuffered(socket: Socket): Buffer | undefined {
  if (socket.readableLength === 0) return undefined;
  const chunk = socket.read() as Buffer | string | null;
  if (chunk === null) return undefined;
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** Resolves once `socket` has handed every queued byte (and `extra`) to the kernel. */
function flushed(socket: Socket, extra: Buffer | undefined): Promise<void> {
  if (!extra && socket.writableLength === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.write(extra ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

function endSockets(a: Socket, b: Socket, result: SpliceRelayResult): void {
  const reset = (s: Socket) => {
    if (!s.destroyed) s.resetAndDestroy();
  };
  const destroy = (s: Socket) => {
    if (!s.destroyed) s.destroy();
  };
  // Both are destroyed synchronously, so neither sees the other's 'close' while still open.
  if (result.reason === 'eof') {
    destroy(a);
    destroy(b);
  } else if (result.reason === 'error') {
    if (result.side === 'a') {
      destroy(a);
      reset(b);
    } else if (result.side === 'b') {
      destroy(b);
      reset(a);
    } else {
      reset(a);
      reset(b);
    }
  } else {
    reset(a);
    reset(b);
  }
}
