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
export {
  buildPlan,
  type Change,
  describeChange,
  formatPlan,
  MAIN_TABLE,
  type Plan,
  type PlanTags,
  type PolicyRule,
  type RoutedPrefix,
  undoOrder,
} from './plan.js';
export type { Platform, RunContext } from './platform/types.js';
export { type StatsSnapshot, statsJson, statusLine } from './stats.js';
