import {
  ERROR_ACCESS_DENIED,
  ERROR_ALREADY_EXISTS,
  ERROR_BUFFER_OVERFLOW,
  ERROR_FILE_NOT_FOUND,
  ERROR_HANDLE_EOF,
  ERROR_INVALID_DATA,
  ERROR_INVALID_PARAMETER,
  ERROR_MOD_NOT_FOUND,
  ERROR_NO_MORE_ITEMS,
  ERROR_NOT_FOUND,
  ERROR_OBJECT_ALREADY_EXISTS,
  ERROR_PATH_NOT_FOUND,
} from './constants.js';

export type TunErrorCode =
  /** wintun.dll could not be found or loaded. */
  | 'DLL_NOT_FOUND'
  /** The Wintun driver is not loaded / could not be installed. */
  | 'DRIVER_NOT_LOADED'
  /** The adapter was removed or the session ended (ERROR_HANDLE_EOF). */
  | 'ADAPTER_GONE'
  /** The receive ring is corrupt (ERROR_INVALID_DATA). */
  | 'RING_CORRUPT'
  | 'ACCESS_DENIED'
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED_PLATFORM'
  /** A DLL lacks an export this call needs (e.g. Wine's iphlpapi has no CreateIpForwardEntry2). */
  | 'MISSING_EXPORT'
  /** Any other Win32 error; see win32Code. */
  | 'WIN32';

/** Typed error of this package. `win32Code` is the GetLastError()/return value when there is one. */
export class TunError extends Error {
  override readonly name = 'TunError';
  readonly code: TunErrorCode;
  readonly operation: string;
  readonly win32Code: number | undefined;
  constructor(code: TunErrorCode, operation: string, message: string, win32Code?: number) {
    super(`${operation} failed: ${message}`);
    this.code = code;
    this.operation = operation;
    this.win32Code = win32Code;
  }
}

const WIN32_NAMES: Record<number, string> = {
  [ERROR_FILE_NOT_FOUND]: 'ERROR_FILE_NOT_FOUND',
  [ERROR_PATH_NOT_FOUND]: 'ERROR_PATH_NOT_FOUND',
  [ERROR_ACCESS_DENIED]: 'ERROR_ACCESS_DENIED',
  [ERROR_INVALID_DATA]: 'ERROR_INVALID_DATA',
  [ERROR_HANDLE_EOF]: 'ERROR_HANDLE_EOF',
  [ERROR_INVALID_PARAMETER]: 'ERROR_INVALID_PARAMETER',
  [ERROR_BUFFER_OVERFLOW]: 'ERROR_BUFFER_OVERFLOW',
  [ERROR_MOD_NOT_FOUND]: 'ERROR_MOD_NOT_FOUND',
  [ERROR_ALREADY_EXISTS]: 'ERROR_ALREADY_EXISTS',
  [ERROR_NO_MORE_ITEMS]: 'ERROR_NO_MORE_ITEMS',
  [ERROR_NOT_FOUND]: 'ERROR_NOT_FOUND',
  [ERROR_OBJECT_ALREADY_EXISTS]: 'ERROR_OBJECT_ALREADY_EXISTS',
};

/** "ERROR_HANDLE_EOF (38)" or "Win32 error 1234". */
export function win32ErrorName(code: number): string {
  const name = WIN32_NAMES[code];
  return name ? `${name} (${code})` : `Win32 error ${code}`;
}

/** Map a failed call's Win32 error to a TunError. `operation` names the API (e.g. "WintunStartSession"). */
export function win32Error(operation: string, win32Code: number): TunError {
  const what = win32ErrorName(win32Code);
  switch (win32Code) {
    case ERROR_HANDLE_EOF:
      return new TunError(
        'ADAPTER_GONE',
        operation,
        `${what}: the adapter is gone or the session ended`,
        win32Code,
      );
    case ERROR_INVALID_DATA:
      return new TunError('RING_CORRUPT', operation, `${what}: the Wintun ring is corrupt`, win32Code);
    case ERROR_ACCESS_DENIED:
      return new TunError('ACCESS_DENIED', operation, `${what}: run as Administrator`, win32Code);
    case ERROR_ALREADY_EXISTS:
    case ERROR_OBJECT_ALREADY_EXISTS:
      return new TunError('ALREADY_EXISTS', operation, `${what}: it already exists`, win32Code);
    case ERROR_NOT_FOUND:
    case ERROR_FILE_NOT_FOUND:
      return new TunError('NOT_FOUND', operation, `${what}: not found`, win32Code);
    case ERROR_INVALID_PARAMETER:
      return new TunError(
        'INVALID_ARGUMENT',
        operation,
        `${what}: the system rejected a parameter`,
        win32Code,
      );
    default:
      return new TunError('WIN32', operation, what, win32Code);
  }
}

/** What the read loop does after WintunReceivePacket returned NULL with this error. */
export type ReceiveFailure = 'empty' | 'gone' | 'fatal';
export function classifyReceiveError(win32Code: number): ReceiveFailure {
  if (win32Code === ERROR_NO_MORE_ITEMS) return 'empty';
  if (win32Code === ERROR_HANDLE_EOF) return 'gone';
  return 'fatal';
}

/** What the write path does after WintunAllocateSendPacket returned NULL with this error. */
export type SendFailure = 'drop' | 'gone' | 'fatal';
export function classifySendError(win32Code: number): SendFailure {
  if (win32Code === ERROR_BUFFER_OVERFLOW) return 'drop';
  if (win32Code === ERROR_HANDLE_EOF) return 'gone';
  return 'fatal';
}
