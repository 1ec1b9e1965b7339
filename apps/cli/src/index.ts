export { type Cidr, CidrError, cidrContains, formatCidr, networkOf, parseCidr } from './cidr.js';
export { type CliIO, main, resolveProxy } from './cli.js';
export {
  CONFIG_KEYS,
  ConfigError,
  DEFAULT_ADDRESS,
  DEFAULT_FWMARK,
  DEFAULT_MTU,
  DEFAULT_NAME,
  DEFAULT_TABLE,
  DEFAULT_UDP_TIMEOUT_MS,
  type ProxyConfig,
  type RawConfig,
  type RunConfig,
  readConfigFile,
  resolveConfig,
} from './config.js';
export type { Logger } from './log.js';
export type { Platform, TunnelContext } from './platform/types.js';
export { RunRefused } from './platform/types.js';
export { type RunOptions, runTunnel } from './run.js';
export { type StatsSnapshot, statsJson, statusLine } from './stats.js';
export { type CreateTunnelOptions, createTunnel, type TunnelConfig } from './tunnel/create.js';
export {
  type Tunnel,
  type TunnelClosed,
  type TunnelInfo,
  TunnelStartAborted,
  type TunnelStop,
} from './tunnel/types.js';
