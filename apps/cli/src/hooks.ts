import { spawn } from 'node:child_process';
import type { RunConfig } from './config.js';
import type { Logger } from './log.js';
import type { Tunnel, TunnelClosed, TunnelInfo } from './tunnel/types.js';

// `up`/`down` hooks (issue 16 item 4), as wg-quick's PostUp/PostDown: a shell command run once the tunnel
// is ready (`up`) and once it is torn down (`down`), with ZTUN_IFNAME and ZTUN_ADDRESSES (space-separated
// CIDRs) in its environment. Its output goes to ztun's stderr; its exit status is logged; one that runs past
// the timeout gets SIGTERM, then SIGKILL 2 s later. A failing hook is reported, never fatal.

export interface HookResult {
  /** Exit code, or the signal that ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
}

/** Runs `/bin/sh -c command`; resolves when it has exited (after the timeout's kill if need be). */
export function runHook(
  name: 'up' | 'down',
  command: string,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
  log: Logger,
): Promise<HookResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      env: { ...process.env, ...env },
      // stdout is ztun's stats stream: the hook's output goes to stderr with ztun's logs.
      stdio: ['ignore', 2, 2],
    });
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      log.warn(`${name} hook could not start: ${err.message}`);
      resolve({ code: null, signal: null, timedOut: false });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      if (timedOut) log.warn(`${name} hook timed out after ${timeoutMs / 1000} s and was killed (${signal})`);
      else if (code === 0) log.info(`${name} hook exited 0`);
      else log.warn(`${name} hook ${code !== null ? `exited ${code}` : `was killed by ${signal}`}`);
      resolve({ code, signal, timedOut });
    });
  });
}

/** The hooks' environment for a ready tunnel. */
export function hookEnv(info: TunnelInfo): Record<string, string> {
  return { ZTUN_IFNAME: info.name, ZTUN_ADDRESSES: info.addresses.join(' ') };
}

/** Runs `up` after ready and `down` after close (when the tunnel had been ready). */
export function withHooks(
  tunnel: Tunnel,
  config: Pick<RunConfig, 'up' | 'down' | 'hookTimeoutMs'>,
  log: Logger,
): Tunnel {
  if (!config.up && !config.down) return tunnel;
  let info: TunnelInfo | undefined;
  let upDone: Promise<unknown> = Promise.resolve();
  let closing: Promise<TunnelClosed> | undefined;
  const ready = tunnel.ready.then((i) => {
    info = i;
    if (config.up) upDone = runHook('up', config.up, hookEnv(i), config.hookTimeoutMs, log);
    return i;
  });
  ready.catch(() => {});
  return {
    ready,
    stopped: tunnel.stopped,
    stats: () => tunnel.stats(),
    connections: () => tunnel.connections?.() ?? [],
    close(reason) {
      closing ??= (async () => {
        const closed = await tunnel.close(reason);
        // A still-running `up` finishes (or times out) before `down` starts.
        await upDone;
        if (config.down && info) await runHook('down', config.down, hookEnv(info), config.hookTimeoutMs, log);
        return closed;
      })();
      return closing;
    },
  };
}
