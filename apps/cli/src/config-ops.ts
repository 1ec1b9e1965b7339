// Operations (issue 16 item 4): hooks around the tunnel's life, a log file and a PID file for supervisors.
// `up`/`down`/`hook-timeout` work for createTunnel too; `log-file`/`pid-file` belong to the `ztun run`
// process (createTunnel refuses them: an embedder has its own logger and PID).

export const OPS_CONFIG_KEYS = ['up', 'down', 'hook-timeout', 'log-file', 'pid-file'] as const;
type Key = (typeof OPS_CONFIG_KEYS)[number];

/** Default time a hook may take before it is killed. */
export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;

export interface OpsConfig {
  /** Shell command run (`/bin/sh -c`) once the tunnel is ready, with ZTUN_IFNAME and ZTUN_ADDRESSES set. */
  readonly up?: string;
  /** Shell command run after the tunnel is torn down (same environment). */
  readonly down?: string;
  /** How long a hook may run before it is killed (SIGTERM, then SIGKILL). */
  readonly hookTimeoutMs: number;
  /** Append log lines (with a timestamp) to this file as well as to stderr. */
  readonly logFile?: string;
  /** Write the process id here while running (removed at exit). */
  readonly pidFile?: string;
}

type Pick = (key: Key) => { value: unknown; label: string } | undefined;

export function resolveOps(
  pick: Pick,
  duration: (key: 'hook-timeout') => number | undefined,
  bad: (message: string) => Error,
): OpsConfig {
  const text = (key: Key): string | undefined => {
    const p = pick(key);
    if (!p) return undefined;
    if (typeof p.value !== 'string' || p.value.trim() === '' || p.value.includes('\0'))
      throw bad(`${p.label}: expected a non-empty string`);
    return p.value;
  };
  const up = text('up');
  const down = text('down');
  const logFile = text('log-file');
  const pidFile = text('pid-file');
  return {
    ...(up !== undefined ? { up } : {}),
    ...(down !== undefined ? { down } : {}),
    hookTimeoutMs: duration('hook-timeout') ?? DEFAULT_HOOK_TIMEOUT_MS,
    ...(logFile !== undefined ? { logFile } : {}),
    ...(pidFile !== undefined ? { pidFile } : {}),
  };
}
