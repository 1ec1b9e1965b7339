// The library entry: `import { createTunnel } from 'ztun'`. Same settings as the CLI's config file, same
// composition as `ztun run` (which is parse → this → signal → close()).

import { resolveProxy } from '../cli.js';
import { type LogLevel, rawConfigOf, resolveConfig } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { loadPlatform } from '../platform/index.js';
import { type Platform, RunRefused } from '../platform/types.js';
import { ProxyResolveAborted } from '../proxy-address.js';
import { failedTunnel } from './failed.js';
import { EMPTY_STATS, type Tunnel, type TunnelClosed, TunnelStartAborted } from './types.js';

/**
 * A tunnel's settings: the keys of ztun's config file (README "Options"), camelCase or kebab-case. Lists also
 * take a single string. Unknown keys and bad values are refused with a ConfigError naming them.
 */
export interface TunnelConfig {
  /** TUN interface name (default ztun0). */
  name?: string;
  /** The TUN's addresses, CIDR (default 198.18.0.1/15, plus fd7a:7a74::1/64 with autoRoute). */
  address?: string | readonly string[];
  mtu?: number;
  txqueuelen?: number;
  /** 'direct' (default) or socks5://[user:pass@]host:port. */
  proxy?: string;
  /** Prefixes sent through the tunnel. */
  route?: string | readonly string[];
  /** Everything through the tunnel, loop-free. */
  autoRoute?: boolean;
  /** With autoRoute and no `address`: add the default IPv6 address too, capturing IPv6 (default true). */
  ipv6?: boolean;
  /** Prefixes never sent through the tunnel. */
  exclude?: string | readonly string[];
  icmp?: 'reply' | 'off';
  /** UDP session idle timeout: seconds as a number, or text such as '60s', '500ms', '2m' (default 60s). */
  udpTimeout?: string | number;
  pcap?: string;
  splice?: boolean;
  offload?: boolean;
  table?: number;
  fwmark?: number;
  killSwitch?: boolean;
  /** DNS queries to port 53: 'udp', 'tcp' (DNS over TCP through the proxy), 'auto' (default) or 'fake-ip'. */
  dns?: 'auto' | 'tcp' | 'udp' | 'fake-ip';
  /** With dns 'fake-ip': the ranges (CIDR, one per family) names get addresses from. */
  fakeIpRange?: string | readonly string[];
  /** With dns 'fake-ip': answer queries sent to any resolver. */
  dnsHijack?: boolean;
  /** The level of the default logger (ignored when `options.log` is given). */
  logLevel?: LogLevel;
}

export interface CreateTunnelOptions {
  /** Where the tunnel logs. Default: warnings and errors as `ztun: …` lines on stderr (or `logLevel`). */
  log?: Logger;
  /** The OS composition; default: this OS's (tests pass fakes). */
  platform?: Platform;
}

/**
 * Creates the tunnel for this OS: device, addresses, routes (or auto-route), stack, outbound. Returns at once;
 * `await tunnel.ready` for the moment traffic flows (it rejects with a ConfigError for bad settings, a
 * RunRefused for a refusal such as missing privileges, after undoing anything applied), `tunnel.close()` to
 * undo everything.
 */
export function createTunnel(config: TunnelConfig, options: CreateTunnelOptions = {}): Tunnel {
  let resolved: ReturnType<typeof resolveConfig>;
  try {
    resolved = resolveConfig(rawConfigOf(config as Record<string, unknown>, 'createTunnel'));
  } catch (err) {
    return failedTunnel(err as Error);
  }
  const log = options.log ?? createLogger(config.logLevel === undefined ? 'warn' : resolved.logLevel);
  let inner: Tunnel | undefined;
  let closedBeforeStart: string | undefined;
  // close() during the proxy host's resolution ends it at once (nothing is applied before it).
  const startup = new AbortController();
  const started = (async () => {
    const platform = options.platform ?? (await loadPlatform());
    if (platform.unsupported) throw new RunRefused(platform.unsupported, 2);
    let proxy: Awaited<ReturnType<typeof resolveProxy>>;
    try {
      proxy = await resolveProxy(resolved, log, platform.sockets, startup.signal);
    } catch (err) {
      if (err instanceof ProxyResolveAborted) throw new TunnelStartAborted(closedBeforeStart ?? 'closed');
      throw err;
    }
    if (closedBeforeStart !== undefined) {
      proxy?.stop();
      throw new TunnelStartAborted(closedBeforeStart);
    }
    inner = platform.createTunnel(resolved, {
      proxyAddresses: proxy?.addresses ?? [],
      ...(proxy ? { proxy } : {}),
      log,
    });
    return inner;
  })();
  const ready = started.then((t) => t.ready);
  ready.catch(() => {});
  return {
    ready,
    stopped: started.then(
      (t) => t.stopped,
      (error: Error) =>
        error instanceof TunnelStartAborted ? { reason: error.reason } : { reason: 'start failed', error },
    ),
    stats: () => inner?.stats() ?? EMPTY_STATS,
    close(reason = 'closed'): Promise<TunnelClosed> {
      closedBeforeStart ??= reason;
      startup.abort();
      return started.then(
        (t) => t.close(reason),
        () => ({ clean: true }),
      );
    },
  };
}
