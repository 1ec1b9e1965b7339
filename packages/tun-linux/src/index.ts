// The device contract is declared once, in @ztun/packet; re-exported so imports from here keep working.
export type { DeviceCounters, EchoFamilies, PacketBatch, TunDevice } from '@ztun/packet';
export { type AdoptTunOptions, adoptTun, adoptTunSync, type TunFdInfo, tunFdInfo } from './adopt.linux.js';
export { LinuxTun, openTun, openTunSync } from './device.linux.js';
export type { TunOffload } from './engine.linux.js';
export { errnoName, SocketOptionError, TunError, TunUnsupportedError } from './errors.js';
export { type FdLimit, fdLimit, raiseFdLimit } from './fd-limit.linux.js';
export {
  GSO_MAX_PACKET,
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_TUN,
  IFF_VNET_HDR,
  invalidInterfaceName,
  slotSizeFor,
} from './ifreq.js';
export { nativeAddonPath } from './load-addon.linux.js';
export { linuxSockets } from './sockets.linux.js';
export {
  canSplice,
  type SplicedPair,
  type SpliceRelayOptions,
  type SpliceRelayResult,
  type SpliceRelayStats,
  spliceRelay,
  spliceRelayStats,
  spliceRelaySupported,
  spliceRelayTotals,
} from './splice.linux.js';
export type { LinuxTunCounters } from './tun-io.linux.js';
export type { OpenTunOptions } from './types.js';
export { loadUdpRelayEngine } from './udp-relay.linux.js';
