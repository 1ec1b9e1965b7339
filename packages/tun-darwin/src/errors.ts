import { darwinErrnoName } from '@ztun/routing-darwin';

/** Bad arguments (name, MTU, address…). */
export class UtunInputError extends Error {
  override readonly name = 'UtunInputError';
}

/** A syscall on the utun path failed, with darwin's errno. */
export class UtunError extends Error {
  override readonly name = 'UtunError';
  readonly code: string;
  constructor(
    readonly operation: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${operation}: ${darwinErrnoName(errno)} (errno ${errno})${detail ? ` — ${detail}` : ''}`);
    this.code = darwinErrnoName(errno);
  }
}
