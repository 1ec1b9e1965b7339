export {
  buildRouteMessage,
  buildScopedDefaultMessage,
  isTaggedScopedDefault,
  RouteClient,
  type RouteClientOptions,
  type RouteEntry,
  type RouteGateway,
  type RouteReply,
  type RouteSocket,
  type RouteSpec,
  type RouteSystem,
  routeEntryFromMessage,
  type ScopedDefaultSpec,
} from './client.js';
export * from './constants.js';
export * from './errors.js';
export { defineRouteFfiTypes, loadKoffi, loadRouteFfiTypes, type RouteFfiTypes } from './ffi-types.js';
export {
  formatIp,
  type IpFamily,
  maskPrefixLength,
  type ParsedIp,
  type ParsedPrefix,
  parseIp,
  parsePrefix,
  prefixMask,
} from './ip.js';
export * from './message.js';
export { isDefaultRouteChange, type RouteEvent, RouteMonitor, type RouteMonitorOptions } from './monitor.js';
export type { DarwinRouteSystem } from './route-socket.darwin.js';
export * from './sockaddr.js';
export * from './socket-options.js';

import type { RouteClientOptions } from './client.js';
import { RouteClient } from './client.js';
import type { DarwinRouteSystem } from './route-socket.darwin.js';

/** The real macOS route system (koffi), loaded on first call. Rejects on any other OS. */
export async function createDarwinRouteSystem(): Promise<DarwinRouteSystem> {
  const mod = await import('./route-socket.darwin.js');
  return mod.createDarwinRouteSystem();
}

/** A RouteClient over this Mac's routing socket. */
export async function createDarwinRouteClient(
  options?: RouteClientOptions,
): Promise<{ client: RouteClient; system: DarwinRouteSystem }> {
  const system = await createDarwinRouteSystem();
  return { client: new RouteClient(system, options), system };
}
