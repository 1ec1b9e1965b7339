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
export type { Platform, RunContext } from './platform/types.js';
export { type StatsSnapshot, statsJson, statusLine } from './stats.js';
