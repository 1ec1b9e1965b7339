import { constants } from 'node:os';
import { errnoName } from '@ztun/routing-linux';

// One Linux errno table for every ztun package: @ztun/routing-linux's (re-exported from this package's index).
export { errnoName };

const hints: Record<string, string> = {
  EPERM: 'needs CAP_NET_ADMIN (run as root or grant the capability)',
  EACCES: 'permission denied',
  ENOENT: 'no such file (is the tun module loaded? /dev/net/tun must exist)',
  EBUSY: 'the interface name is in use by another device',
  EINVAL: 'invalid argument',
  EBADFD: 'the device is gone',
  EBADF: 'the file descriptor is closed',
  EIO: 'I/O error (device down or removed)',
};

/**
 * A refused syscall or bad option of a TUN device. `operation` names what was being done (`open /dev/net/tun`,
 * `TUNSETIFF`, `set mtu`, `read`…); `code` is the errno name (`EPERM`) or an option error (`EINVAL`);
 * `errno` the number (0 when no syscall was involved).
 */
export class TunError extends Error {
  override readonly name: string = 'TunError';
  readonly operation: string;
  readonly code: string;
  readonly errno: number;

  constructor(
    operation: string,
    code: string,
    errno: number,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${operation} failed: ${code}${detail ? ` (${detail})` : hints[code] ? ` (${hints[code]})` : ''}`,
      options,
    );
    this.operation = operation;
    this.code = code;
    this.errno = errno;
  }

  static fromErrno(operation: string, errno: number, detail?: string): TunError {
    return new TunError(operation, errnoName(errno), errno, detail);
  }
}

/** An option ztun reserves but does not implement yet (`multiQueue`, `offload`). Code `ENOTSUP`. */
export class TunUnsupportedError extends TunError {
  override readonly name: string = 'TunUnsupportedError';
  constructor(option: string, detail: string) {
    super(`option ${option}`, 'ENOTSUP', constants.errno.ENOTSUP ?? 95, detail);
  }
}

/**
 * A socket(2)/setsockopt(2) call refused while making or tuning a socket of linuxSockets: `operation` is the
 * call as the message names it (`socket()`, `setsockopt(SO_MARK=256)`), `code` the errno name (`EPERM`),
 * `errno` its number. The message stays one line: `operation: strerror text`.
 */
export class SocketOptionError extends Error {
  override readonly name: string = 'SocketOptionError';
  readonly operation: string;
  readonly code: string;
  readonly errno: number;

  constructor(operation: string, errno: number, text: string) {
    super(`${operation}: ${text}`);
    this.operation = operation;
    this.code = errnoName(errno);
    this.errno = errno;
  }
}
