// TEMPORARY: the shapes the Linux platform uses from @ztun/routing-linux, @ztun/tun-linux and @ztun/stack,
// written from the contracts in the brief while those packages are being written. The modules are loaded
// with dynamic import() so the CLI builds and its pure parts run before they land. Replace with the
// packages' own types once their dist exports them.

export interface LinkInfoLike {
  readonly index: number;
  readonly name: string;
  readonly kind: string | undefined;
}

export interface RouteSpecLike {
  dst: string;
  family?: 4 | 6;
  oif?: number;
  table?: number;
  protocol?: number;
}

export interface RuleSpecLike {
  family: 4 | 6;
  priority: number;
  table?: number;
  fwmark?: number;
  fwmask?: number;
  invert?: boolean;
  suppressPrefixLength?: number;
  dst?: string;
}

export interface RtNetlinkLike {
  getLink(nameOrIndex: string | number): Promise<LinkInfoLike | undefined> | LinkInfoLike | undefined;
  setLink(nameOrIndex: string | number, change: { up?: boolean; mtu?: number }): unknown;
  addAddress(spec: { index: number; cidr: string }): unknown;
  deleteAddress(spec: { index: number; cidr: string }): unknown;
  addRoute(spec: RouteSpecLike): unknown;
  deleteRoute(spec: RouteSpecLike): unknown;
  addRule(spec: RuleSpecLike): unknown;
  deleteRule(spec: RuleSpecLike): unknown;
  flushZtun(): unknown;
  close(): unknown;
}

export interface RoutingLinuxModule {
  RtNetlink: { open(): RtNetlinkLike | Promise<RtNetlinkLike> };
  ZTUN_RT_PROTOCOL: number;
  ZTUN_RULE_PRIORITY_MIN: number;
  ZTUN_RULE_PRIORITY_MAX: number;
}

export interface TunDeviceLike {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly counters: Readonly<Record<string, number>>;
  onError(listener: (err: Error) => void): void;
  close(): Promise<void>;
}

export interface TunLinuxModule {
  openTun(opts: {
    name: string;
    mtu: number;
    addresses?: string[];
    up?: boolean;
  }): TunDeviceLike | Promise<TunDeviceLike>;
}

export interface StackLike {
  readonly counters?: unknown;
  close(): Promise<void> | void;
}

export interface StackModule {
  createStack(opts: Record<string, unknown>): StackLike | Promise<StackLike>;
  directOutbound(opts: { mark?: number; bindToDevice?: string }): unknown;
  socks5Outbound(opts: { host: string; port: number; username?: string; password?: string }): unknown;
}
