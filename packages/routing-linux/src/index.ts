export { describeAutoRoute, describeStep } from './auto-route/describe.js';
export {
  type AutoRouteNote,
  type AutoRouteOptions,
  type AutoRoutePlan,
  type AutoRouteStep,
  type AutoRouteTags,
  KILL_SWITCH_METRIC,
  MAIN_TABLE,
  type PlannedRoute,
  type PlannedRule,
  planAutoRoute,
  ZTUN_TAGS,
} from './auto-route/plan.js';
export { parseUidRange, type RuleSelector } from './auto-route/selectors.js';
export {
  type AppliedAutoRoute,
  type ApplyAutoRouteOptions,
  type AutoRouteClient,
  AutoRouteError,
  applyAutoRoute,
  flushAutoRoute,
  routeSpecOf,
  ruleSpecOf,
  type UndoFailure,
} from './auto-route/transaction.js';
export * as constants from './codec/constants.js';
export { errnoName } from './codec/errno.js';
export { MessageBuilder, type NetlinkMessage, parseAttrs, parseMessages } from './codec/netlink.js';
export { NetlinkDecodeError, NetlinkError, RoutingInputError } from './errors.js';
export { LIBC_SONAMES, loadFirstLibrary, loadLinuxLibc } from './libc.linux.js';
export { type RouteFilter, RtNetlink, type RtNetlinkOptions } from './rtnetlink.js';
export { ZTUN_RT_PROTOCOL, ZTUN_RULE_PRIORITY_MAX, ZTUN_RULE_PRIORITY_MIN } from './tags.js';
export { type NetlinkTransport, SyscallError } from './transport.js';
export type {
  AddressInfo,
  AddressSpec,
  IpFamily,
  LinkChange,
  LinkInfo,
  LinkStats,
  NextHop,
  RouteInfo,
  RouteScopeName,
  RouteSpec,
  RouteSpecType,
  RuleAction,
  RuleInfo,
  RuleSpec,
  UidRange,
} from './types.js';
