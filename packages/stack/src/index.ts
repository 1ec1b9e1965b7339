// The device contract is declared once, in @ztun/packet; re-exported so `import type { TunDevice } from '@ztun/stack'` keeps working.
export type { DeviceCounters, PacketBatch, Pinning, StackSockets, TunDevice } from '@ztun/packet';
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
export type {
  DropReason,
  FamilyAddresses,
  StackCounters,
  StackLogger,
  StackOptions,
} from './options.js';
export { type DirectOutboundOptions, directOutbound } from './outbound-direct.js';
export { checkSocks5Proxy, type Socks5OutboundOptions, socks5Outbound } from './outbound-socks5.js';
export { createPcapSink, type PcapSink, type PcapTarget } from './pcap.js';
export { PinningUnsupportedError, portableSockets } from './sockets.js';
export { createStack, type Stack } from './stack.js';
export { endedByReset, resetTcpSocket } from './tcp-reset.js';
export { formatIp, parseIp } from './wire.js';
