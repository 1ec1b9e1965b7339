import { errnoName } from './codec/errno.js';

/**
 * The kernel (or the socket layer) refused an rtnetlink request, or no answer came before the deadline.
 * `operation` names what was asked (e.g. `route add 10.0.0.0/8 table 100`), `code` the errno name.
 */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  /** Positive Linux errno, e.g. 17. */
  readonly errno: number;
  /** Errno name, e.g. 'EEXIST'; 'E<number>' when unknown. */
  readonly code: string;
  /** Extended ack message from the kernel (NETLINK_EXT_ACK), when it sent one. */
  readonly kernelMessage: string | undefined;

  constructor(
    readonly operation: string,
    errno: number,
    detail?: string,
    kernelMessage?: string,
  ) {
    const code = errnoName(errno);
    const why = kernelMessage ? `: ${kernelMessage}` : detail ? `: ${detail}` : '';
    super(`${operation} failed: ${code} (errno ${errno})${why}`);
    this.errno = errno;
    this.code = code;
    this.kernelMessage = kernelMessage;
  }
}

/** A caller passed something that cannot be turned into a request (bad CIDR, out-of-range number…). */
export class RoutingInputError extends TypeError {
  override readonly name = 'RoutingInputError';
  constructor(
    readonly operation: string,
    readonly reason: string,
  ) {
    super(`${operation}: ${reason}`);
  }
}

/** Bytes from the kernel that do not parse as netlink (truncated header, attribute past the end…). */
export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError';
}
