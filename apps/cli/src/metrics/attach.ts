import type { RunConfig } from '../config.js';
import type { Logger } from '../log.js';
import { RunRefused } from '../platform/types.js';
import type { Tunnel, TunnelClosed } from '../tunnel/types.js';
import { tunnelRegistry } from './registry.js';
import { type MetricsServer, startMetricsServer } from './server.js';

// `metrics: HOST:PORT` for any tunnel (the CLI's run and createTunnel alike): the endpoint opens once the
// tunnel is ready and closes with it. A port that cannot be bound fails the start (after undoing it) with
// one line, rather than running without the numbers someone asked for.

export function withMetrics(tunnel: Tunnel, config: Pick<RunConfig, 'metrics'>, log: Logger): Tunnel {
  const listen = config.metrics;
  if (!listen) return tunnel;
  let server: MetricsServer | undefined;
  let closing: Promise<TunnelClosed> | undefined;
  const ready = tunnel.ready.then(async (info) => {
    try {
      server = await startMetricsServer({
        host: listen.host,
        port: listen.port,
        registry: tunnelRegistry(tunnel),
        connections: () => tunnel.connections?.() ?? [],
      });
    } catch (err) {
      await tunnel.close('metrics failed');
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new RunRefused(`--metrics ${listen.host}:${listen.port}: cannot listen (${code})`);
    }
    if (closing) await server.close();
    else log.info(`metrics: ${server.url}/metrics and ${server.url}/connections`);
    return info;
  });
  ready.catch(() => {});
  return {
    ready,
    stopped: tunnel.stopped,
    stats: () => tunnel.stats(),
    connections: () => tunnel.connections?.() ?? [],
    close(reason) {
      closing ??= (async () => {
        await server?.close();
        return tunnel.close(reason);
      })();
      return closing;
    },
  };
}
