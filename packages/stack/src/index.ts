// The device contract is declared once, in @ztun/packet; re-exported so `import type { TunDevice } from '@ztun/stack'` keeps working.
export type { DeviceCounters, PacketBatch, Pinning, StackSockets, TunDevice } from '@ztun/packet';
export {
  CLASSIC_UDP_LIMIT,
  fitUdpAnswer,
  servfailAnswer,
  truncatedAnswer,
  udpAnswerLimit,
} from './dns-message.js';
export {
  DnsTcpClient,
  type DnsTcpClientOptions,
  type DnsTcpCounters,
  DnsTcpError,
  type DnsTcpErrorKind,
} from './dns-tcp.js';
export { FakeIpPool, type FakeIpPoolOptions } from './fake-ip-pool.js';
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
export {
  type DnsOverTcpCounters,
  type DnsOverTcpOptions,
  type DnsOverTcpOutbound,
  dnsOverTcpOutbound,
} from './outbound-dns-tcp.js';
export { type FakeIpOutboundOptions, fakeIpOutbound } from './outbound-fake-ip.js';
export { type Socks5OutboundOptions, socks5Outbound } from './outbound-socks5.js';
export { createPcapSink, type PcapSink, type PcapTarget } from './pcap.js';
export { PinningUnsupportedError, portableSockets } from './sockets.js';
export {
  checkSocks5Proxy,
  probeSocks5Udp,
  type Socks5CheckOptions,
  type UdpProbeResult,
} from './socks5-check.js';
export { createStack, type Stack } from './stack.js';
export { endedByReset, resetTcpSocket } from './tcp-reset.js';
export { formatIp, parseIp } from './wire.js';
