// The device contract is declared once, in @ztun/packet; re-exported so `import type { TunDevice } from '@ztun/stack'` keeps working.
export type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
export type {
  Endpoint,
  Handler,
  IcmpEchoInfo,
  Outbound,
  TcpConnection,
  TcpConnectionInfo,
  UdpSession,
  UdpSessionDropReason,
  UdpSessionHandler,
  UnreachableReason,
} from './handler.js';
export { handlerFromOutbound, type OutboundHandlerOptions } from './handler-from-outbound.js';
export { TcpNatTable } from './nat.js';
export { type DirectOutboundOptions, directOutbound } from './outbound-direct.js';
export { checkSocks5Proxy, type Socks5OutboundOptions, socks5Outbound } from './outbound-socks5.js';
export { createPcapSink, type PcapSink, type PcapTarget } from './pcap.js';
export { type Pinning, pinnedSocketFd } from './pinned.js';
export {
  createStack,
  type DropReason,
  type FamilyAddresses,
  type Stack,
  type StackCounters,
  type StackLogger,
  type StackOptions,
} from './stack.js';
export { resetTcpSocket } from './tcp-reset.js';
export { formatIp, parseIp } from './wire.js';
