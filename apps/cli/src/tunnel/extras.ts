import type { RunConfig } from '../config.js';
import { withHooks } from '../hooks.js';
import type { Logger } from '../log.js';
import { withMetrics } from '../metrics/attach.js';
import type { Tunnel } from './types.js';

/** What every tunnel gets around the OS composition, for `ztun run` and createTunnel alike: metrics, hooks. */
export function withExtras(tunnel: Tunnel, config: RunConfig, log: Logger): Tunnel {
  return withHooks(withMetrics(tunnel, config, log), config, log);
}
