// One open AF_ROUTE socket of the simulated XNU: a receive queue every routing message is delivered to
// (SO_USELOOPBACK: the sender's own too, rtsock.c:215), reads that wait with a deadline, and ENOBUFS when
// the kernel had to drop messages for it (rtsock.c raw_input → sbappendaddr failure).

import { XnuErrno } from './codec.js';

export type SyscallErrorFactory = (errno: number, source: 'write' | 'read', operation: string) => Error;

export class XnuRouteSocket {
  private readonly queue: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  private overflowed = false;
  closed = false;

  constructor(
    readonly pid: number,
    private readonly write_: (socket: XnuRouteSocket, message: Uint8Array) => void,
    private readonly error: SyscallErrorFactory,
    private readonly onClose: (socket: XnuRouteSocket) => void,
  ) {}

  /** The kernel side: queue one message for this socket. */
  deliver(message: Uint8Array): void {
    if (this.closed) return;
    this.queue.push(message.slice());
    this.wake();
  }

  /** The kernel dropped messages for this socket: they are gone and the next read fails with ENOBUFS. */
  overflow(): void {
    this.queue.length = 0;
    this.overflowed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async write(message: Uint8Array): Promise<void> {
    if (this.closed) throw this.error(XnuErrno.EBADF, 'write', 'write(route socket)');
    this.write_(this, message);
  }

  /** Resolves with a message's length (copied into buffer), or 0 when none came within timeoutMs. */
  async read(buffer: Uint8Array, timeoutMs: number): Promise<number> {
    if (this.closed) throw this.error(XnuErrno.EBADF, 'read', 'recv(route socket)');
    if (!this.overflowed && this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(
          () => {
            this.waiter = undefined;
            resolve();
          },
          Math.max(0, timeoutMs),
        );
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.overflowed) {
      this.overflowed = false;
      throw this.error(XnuErrno.ENOBUFS, 'read', 'recv(route socket)');
    }
    const next = this.queue.shift();
    if (!next) return 0;
    const n = Math.min(next.length, buffer.length);
    buffer.set(next.subarray(0, n));
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.wake();
    this.onClose(this);
  }
}
