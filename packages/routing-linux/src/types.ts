/** 4 = IPv4 (AF_INET), 6 = IPv6 (AF_INET6). */
export type IpFamily = 4 | 6;

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  /** Raw IFF_* flags. */
  readonly flags: number;
  /** IFF_UP: administratively up. */
  readonly up: boolean;
  /** IFF_LOWER_UP: carrier (a TUN has it while a process holds the fd). */
  readonly lowerUp: boolean;
  readonly pointToPoint: boolean;
  /** RFC 2863 operational state: 'up', 'down', 'unknown', 'dormant'… */
  readonly operState: string;
  /** ARPHRD_* hardware type (1 ethernet, 65534 none/TUN, 772 loopback). */
  readonly hardwareType: number;
  /** IFLA_INFO_KIND from IFLA_LINKINFO: 'tun', 'dummy', 'veth'…; undefined for physical/loopback. */
  readonly kind: string | undefined;
  /** Link-layer address as aa:bb:…, when the link has one. */
  readonly mac: string | undefined;
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  /** IFLA_TXQLEN: the device's transmit queue length (`ip link set … txqueuelen N`). */
  txQueueLen?: number;
}

/** The first counters of `struct rtnl_link_stats64` (IFLA_STATS64), as `ip -s link` shows them. */
export interface LinkStats {
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxErrors: number;
  readonly txErrors: number;
  /** Packets dropped on receive (for a TUN: written by the process but refused by the kernel). */
  readonly rxDropped: number;
  /** Packets dropped on transmit (for a TUN: the kernel's queue towards the reading process was full). */
  readonly txDropped: number;
}

export interface AddressSpec {
  /** Interface index. */
  index: number;
  /** Local address with prefix length, e.g. '10.200.0.1/24' or 'fd00::1/64'. */
  cidr: string;
  /**
   * Point-to-point peer ('10.200.0.2' or '10.200.0.2/32'): sent as IFA_ADDRESS while the local address goes
   * in IFA_LOCAL, as `ip addr add LOCAL peer PEER` does. The prefix length is the peer's when it has one,
   * otherwise the cidr's.
   */
  peer?: string;
  /** IFA_F_NODAD: skip IPv6 duplicate address detection. Default true for IPv6 (a TUN has no neighbours). */
  nodad?: boolean;
}

export interface AddressInfo {
  readonly family: IpFamily;
  readonly index: number;
  /** The interface's own address (IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL). */
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength`. */
  readonly cidr: string;
  /** The point-to-point peer, when IFA_ADDRESS differs from IFA_LOCAL. */
  readonly peer: string | undefined;
  readonly broadcast: string | undefined;
  readonly label: string | undefined;
  /** IFA_F_* flags (IFA_FLAGS when present, else the 8-bit header field). */
  readonly flags: number;
  readonly scope: number;
}

export type RouteSpecType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw' | 'local';
export type RouteScopeName = 'universe' | 'site' | 'link' | 'host' | 'nowhere';

export interface RouteSpec {
  /** Destination CIDR, or 'default' (0.0.0.0/0 or ::/0: give `family` or an IPv4/IPv6 `gateway`). */
  dst: string;
  family?: IpFamily;
  gateway?: string;
  /** Output interface index. */
  oif?: number;
  /** Routing table id (default 254, main). Ids above 255 go in RTA_TABLE. */
  table?: number;
  /** RTA_PRIORITY (the `metric` of `ip route`). */
  metric?: number;
  /** rtm_protocol; default ZTUN_RT_PROTOCOL so flushZtun can find it later. */
  protocol?: number;
  /** Default: 'link' for a unicast route without gateway, 'host' for 'local', otherwise 'universe'. */
  scope?: RouteScopeName | number;
  type?: RouteSpecType;
  /** Preferred source address (RTA_PREFSRC). */
  prefsrc?: string;
}

export interface NextHop {
  readonly gateway: string | undefined;
  readonly oif: number;
  /** `weight` of `ip route … nexthop … weight N` (rtnh_hops + 1). */
  readonly weight: number;
}

export interface RouteInfo {
  readonly family: IpFamily;
  /** Destination CIDR ('0.0.0.0/0' / '::/0' for default). */
  readonly dst: string;
  readonly dstLength: number;
  /** Source prefix (IPv6 source routing), when set. */
  readonly src: string | undefined;
  readonly gateway: string | undefined;
  readonly oif: number | undefined;
  readonly iif: number | undefined;
  readonly table: number;
  readonly metric: number | undefined;
  readonly protocol: number;
  readonly scope: number;
  /** 'unicast', 'local', 'broadcast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'multicast'…, or the number. */
  readonly type: string;
  readonly prefsrc: string | undefined;
  /** rtm_flags (RTNH_F_*, RTM_F_*). */
  readonly flags: number;
  readonly tos: number;
  /** Multipath next hops (RTA_MULTIPATH), when the route has them. */
  readonly nexthops: readonly NextHop[] | undefined;
}

/** Users start..end inclusive (`ip rule … uidrange START-END`). */
export interface UidRange {
  readonly start: number;
  readonly end: number;
}

/** `goto` jumps to the rule with priority RuleSpec.goto; `nop` matches and does nothing (a goto target). */
export type RuleAction = 'lookup' | 'unreachable' | 'blackhole' | 'prohibit' | 'goto' | 'nop';

export interface RuleSpec {
  family: IpFamily;
  priority: number;
  /** Table to look up (action 'lookup', the default). Ids above 255 go in FRA_TABLE. */
  table?: number;
  fwmark?: number;
  fwmask?: number;
  /** `not`: FIB_RULE_INVERT. */
  invert?: boolean;
  suppressPrefixLength?: number;
  /** Input interface name (`iif`). */
  iif?: string;
  /** Output interface name (`oif`). */
  oif?: string;
  /** Source prefix (`from`). */
  src?: string;
  /** Destination prefix (`to`). */
  dst?: string;
  /** FRA_UID_RANGE: traffic of sockets owned by these users (`uidrange`; kernel ≥ 4.10). */
  uidRange?: UidRange;
  action?: RuleAction;
  /** The priority action 'goto' jumps to (FRA_GOTO); it must be after this rule's. */
  goto?: number;
  /** FRA_PROTOCOL (kernel ≥ 4.17); default ZTUN_RT_PROTOCOL. */
  protocol?: number;
}

export interface RuleInfo {
  readonly family: IpFamily;
  readonly priority: number;
  readonly table: number;
  /** 'lookup', 'goto', 'nop', 'blackhole', 'unreachable', 'prohibit', or the FR_ACT_* number. */
  readonly action: string;
  readonly fwmark: number | undefined;
  readonly fwmask: number | undefined;
  readonly invert: boolean;
  readonly suppressPrefixLength: number | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly src: string | undefined;
  readonly dst: string | undefined;
  readonly protocol: number | undefined;
  /** `uidrange`, when the rule has one. */
  readonly uidRange: UidRange | undefined;
  /** action 'goto': the target priority. */
  readonly goto: number | undefined;
  readonly flags: number;
}
