import type { LogLevel } from './config.js';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

/** Plain one-line logs on stderr: `ztun: <level>: <message>` (info without a level word). */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
) {
  const at = RANK[level];
  const emit = (l: LogLevel, msg: string) => {
    if (RANK[l] > at) return;
    write(`ztun: ${l === 'info' ? '' : `${l}: `}${msg}\n`);
  };
  return {
    error: (m: string) => emit('error', m),
    warn: (m: string) => emit('warn', m),
    info: (m: string) => emit('info', m),
    debug: (m: string) => emit('debug', m),
  } satisfies Logger;
}
