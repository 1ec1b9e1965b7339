// `ztun run` after parsing: createTunnel → wait for a signal (or the tunnel's own failure) → close(), with the
// ready line, the stats and the exit code. OS-neutral: the platform's createTunnel does the OS's work.

import type { RunConfig } from './config.js';
import { describeProxy } from './config.js';
import type { Platform, TunnelContext } from './platform/types.js';
import { RunRefused } from './platform/types.js';
import { formatBytes, startStatsReporter } from './stats.js';
import { withExtras } from './tunnel/extras.js';
import { TunnelStartAborted } from './tunnel/types.js';
import { keepYoungGenerationSmall } from './young-generation.js';

export interface RunOptions extends TunnelContext {
  /** Where stats go (stdout), and whether it is a terminal. */
  readonly statsOut: { write(text: string): void; isTTY: boolean };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Runs the tunnel until SIGINT/SIGTERM/SIGHUP or its own failure; resolves the exit code. */
export async function runTunnel(platform: Platform, config: RunConfig, o: RunOptions): Promise<number> {
  const { log } = o;
  keepYoungGenerationSmall();
  let signalled: string | undefined;
  let wake!: (reason: string) => void;
  const interrupted = new Promise<string>((resolve) => {
    wake = resolve;
  });
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      log.warn(`${sig} again: still removing routes and rules, please wait`);
      return;
    }
    signalled = sig;
    wake(sig);
  };
  // A bug that escapes to the event loop must still remove the routes and rules before the process ends.
  let fatal = false;
  const onFatal = (err: unknown) => {
    log.error(`internal error: ${(err as Error)?.stack ?? String(err)}`);
    fatal = true;
    signalled ??= 'internal error';
    wake('internal error');
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);

  const tunnel = withExtras(platform.createTunnel(config, o), config, log);
  // Signals from now on end the run through the same teardown, also when they arrive mid-setup.
  void interrupted.then((reason) => tunnel.close(reason));
  let exitCode = 0;
  let stopStats: (() => void) | undefined;
  try {
    const info = await tunnel.ready;
    log.info(
      `ready: ${info.name} ${info.addresses.join(' ')} mtu ${info.mtu}, ` +
        `proxy ${describeProxy(config.proxy)}, ${config.autoRoute ? `auto-route (${capturedFamilies(config)})` : `${info.routes} route(s)`}, ` +
        `${info.changes} changes applied; ${info.crashBehaviour}` +
        (info.notes?.length ? `; ${info.notes.join('; ')}` : ''),
    );
    notify(platform, `READY=1\nSTATUS=ztun on ${info.name}\nMAINPID=${process.pid}`, log);
    const interval = config.statsIntervalMs ?? (o.statsOut.isTTY ? 1000 : 10_000);
    if (interval > 0) {
      stopStats = startStatsReporter({
        snapshot: () => tunnel.stats(),
        intervalMs: interval,
        tty: o.statsOut.isTTY,
        write: (t) => o.statsOut.write(t),
      });
    }
    const stop = await Promise.race([tunnel.stopped, interrupted.then((reason) => ({ reason }))]);
    if ('error' in stop && stop.error) exitCode = 1;
    stopStats?.();
    stopStats = undefined;
    notify(platform, 'STOPPING=1', log);
    const closed = await tunnel.close(stop.reason);
    if (!closed.clean) exitCode ||= 1;
    if (fatal) exitCode = 1;
    if (exitCode === 0) {
      const s = closed.stats;
      const failed = s?.connectFailures ? `; ${s.connectFailures} connects failed` : '';
      const queue = s?.deviceQueueDrops
        ? `; ${s.deviceQueueDrops} packets dropped at the TUN's kernel queue`
        : '';
      const totals = s
        ? ` (carried ${formatBytes(s.bytesOut)} up, ${formatBytes(s.bytesIn)} down${failed}${queue})`
        : '';
      log.info(`stopped${totals}; everything it added is removed`);
    }
  } catch (err) {
    if (err instanceof TunnelStartAborted) {
      // A signal during start-up: whatever was applied is undone by now.
      const closed = await tunnel.close();
      exitCode = closed.clean && !fatal ? 0 : 1;
      if (exitCode === 0) log.info('stopped before ready; everything it added is removed');
    } else if (err instanceof RunRefused) {
      // Nothing is left applied by now; main() prints it as the one `ztun: …` line with its exit code.
      throw err;
    } else {
      log.error(`start failed: ${(err as Error).message}`);
      exitCode = 1;
    }
  } finally {
    stopStats?.();
    for (const sig of SIGNALS) process.off(sig, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  }
  return exitCode;
}

/** Tells a service manager (systemd Type=notify) when $NOTIFY_SOCKET is set; a failure is one warning. */
function notify(platform: Platform, message: string, log: RunOptions['log']): void {
  if (!process.env.NOTIFY_SOCKET) return;
  if (!platform.notify) {
    log.warn(`NOTIFY_SOCKET is set but ${platform.os} has no sd_notify here`);
    return;
  }
  const why = platform.notify(message);
  if (why) log.warn(`sd_notify: ${why}`);
}

/** Which families --auto-route captures, for the ready line. */
function capturedFamilies(config: RunConfig): string {
  const has6 = config.addresses.some((a) => a.family === 6);
  const has4 = config.addresses.some((a) => a.family === 4);
  if (has4 && has6) return 'IPv4 and IPv6';
  const missing = has4 ? 'IPv6' : 'IPv4';
  const why =
    missing === 'IPv6' && !config.ipv6 ? '--no-ipv6' : `no IPv${missing === 'IPv6' ? 6 : 4} address`;
  return `${has4 ? 'IPv4' : 'IPv6'} only: ${missing} is ${config.killSwitch ? 'refused' : 'not captured'} (${why})`;
}
