import { DarwinErrno, darwinErrnoName } from './constants.js';

/** Why a routing message (or a dump) could not be decoded. Decoders return these; they never throw. */
export type RouteMessageErrorCode =
  | 'TRUNCATED' // fewer bytes than the header or than rtm_msglen says
  | 'BAD_VERSION' // rtm_version is not RTM_VERSION (5)
  | 'BAD_LENGTH' // rtm_msglen smaller than its header or past the buffer
  | 'SOCKADDR_OVERRUN' // a sockaddr's sa_len runs past the message
  | 'BAD_SOCKADDR' // a sockaddr is internally inconsistent (e.g. sockaddr_dl name past sa_len)
  | 'UNEXPECTED_TYPE'; // a valid message, but not of the kind asked for

export class RouteMessageError extends Error {
  override readonly name = 'RouteMessageError';
  constructor(
    readonly code: RouteMessageErrorCode,
    message: string,
    /** Byte offset in the decoded buffer where the problem is. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Bad arguments given to an encoder or to the API (a bad address, an index out of range…). */
export class RouteInputError extends Error {
  override readonly name = 'RouteInputError';
}

/** Where an errno came from: write() on the route socket, the matching reply's rtm_errno, read(), sysctl… */
export type RouteErrnoSource = 'write' | 'rtm_errno' | 'read' | 'socket' | 'sysctl' | 'setsockopt';

/** A routing operation the kernel refused, with darwin's errno. */
export class RouteSyscallError extends Error {
  override readonly name: string = 'RouteSyscallError';
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly source: RouteErrnoSource,
    readonly operation: string,
  ) {
    super(`${operation}: ${darwinErrnoName(errno)} (errno ${errno}, from ${source})`);
    this.code = darwinErrnoName(errno);
  }
}

/** EEXIST: the route is already there (RTM_ADD). */
export class RouteExistsError extends RouteSyscallError {
  override readonly name = 'RouteExistsError';
}

/** ESRCH: no such route (RTM_DELETE, RTM_GET, RTM_CHANGE). */
export class RouteNotFoundError extends RouteSyscallError {
  override readonly name = 'RouteNotFoundError';
}

/** EPERM / EACCES: changing routes needs root. */
export class RoutePermissionError extends RouteSyscallError {
  override readonly name = 'RoutePermissionError';
}

/** No matching reply arrived before the deadline (after all retries). */
export class RouteTimeoutError extends Error {
  override readonly name = 'RouteTimeoutError';
}

/** Maps an errno to the most specific typed error. */
export function routeErrorFromErrno(
  errno: number,
  source: RouteErrnoSource,
  operation: string,
): RouteSyscallError {
  switch (errno) {
    case DarwinErrno.EEXIST:
      return new RouteExistsError(errno, source, operation);
    case DarwinErrno.ESRCH:
      return new RouteNotFoundError(errno, source, operation);
    case DarwinErrno.EPERM:
    case DarwinErrno.EACCES:
      return new RoutePermissionError(errno, source, operation);
    default:
      return new RouteSyscallError(errno, source, operation);
  }
}
