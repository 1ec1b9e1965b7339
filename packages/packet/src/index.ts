export * from './address.js';
export * from './build.js';
export * from './checksum.js';
export type { DeviceCounters, EchoFamilies, PacketBatch, TunDevice } from './device.js';
export * from './errors.js';
export * from './icmp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './nat.js';
export * from './options.js';
export * from './packet.js';
export * from './pcap.js';
export type {
  Pinning,
  StackSockets,
  UdpRelay,
  UdpRelayEngine,
  UdpRelayOptions,
  UdpRelayStats,
} from './sockets.js';
export * from './tcp.js';
export * from './udp.js';
