import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { RunRefused } from './platform/types.js';

// `--log-file` and `--pid-file` of `ztun run` (issue 16 item 4), for supervisors that want files.

const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

export interface LogFile {
  /** Appends one log line with an ISO timestamp in front. */
  write(line: string): void;
  close(): void;
}

/** Opens `path` for appending (created 0640). A failure is a one-line refusal. */
export function openLogFile(path: string): LogFile {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o640);
  } catch (err) {
    throw new RunRefused(`--log-file ${path}: cannot open (${code(err)})`);
  }
  let open = true;
  return {
    write(line) {
      if (!open) return;
      try {
        writeSync(fd, `${new Date().toISOString()} ${line}`);
      } catch {
        // A full disk must not take the tunnel down; stderr still has the line.
      }
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Writes this process's id to `path`; returns the remover, which deletes it only while it still holds our id. */
export function writePidFile(path: string, pid = process.pid): () => void {
  try {
    writeFileSync(path, `${pid}\n`, { mode: 0o644 });
  } catch (err) {
    throw new RunRefused(`--pid-file ${path}: cannot write (${code(err)})`);
  }
  return () => {
    try {
      if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  };
}
