/**
 * What RtNetlink needs from a netlink socket. The Linux implementation is transport.linux.ts; tests can pass
 * a fake (e.g. one that never answers, to prove the deadline).
 */
export interface NetlinkTransport {
  /** Our netlink port id (nl_pid the kernel assigned at bind); replies carry it. */
  readonly portId: number;
  /** Sends one request datagram to the kernel. Throws SyscallError. */
  send(message: Uint8Array): void;
  /** Waits at most `timeoutMs` for one datagram; undefined when none came in time. Throws SyscallError. */
  receive(timeoutMs: number): Uint8Array | undefined;
  /** Releases the socket. Idempotent. */
  close(): void;
}

/** A system call failed with `errno`. RtNetlink turns it into a NetlinkError naming the operation. */
export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall} failed with errno ${errno}`);
  }
}
