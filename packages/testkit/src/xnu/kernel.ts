// A simulated XNU for running ztun's real macOS composition on Linux: interfaces, the routing table
// (table.ts), and route_output's semantics as xnu bsd/net/rtsock.c and route.c implement them
// (reference doc §1.6): EPERM for a non-root change, EEXIST / ESRCH / ENETUNREACH returned from write()
// *and* set in rtm_errno of the copy broadcast to every open route socket (with the sender's rtm_pid and
// rtm_seq), RTF_DONE on success, RTF_IFSCOPE taking its scope from rtm_index, NET_RT_DUMP. Adversities on
// request: foreign messages interleaved before each copy (another pid with the same seq, our pid with
// another seq, interface messages), ENOBUFS from write() in bursts, receive-queue overflows.

import {
  decodeMessage,
  encodeMessage,
  maskBytes,
  RTF_DONE,
  RTF_GATEWAY,
  RTF_HOST,
  RTF_IFSCOPE,
  RTF_STATIC,
  RTF_UP,
  RTM_ADD,
  RTM_CHANGE,
  RTM_DELETE,
  RTM_GET,
  XnuErrno,
  type XnuMessage,
  type XnuSockaddr,
} from './codec.js';
import { parseAddr, parseCidrText } from './ip.js';
import { decoys } from './noise.js';
import { XnuProcess } from './process.js';
import { type SyscallErrorFactory, XnuRouteSocket } from './route-socket.js';
import { describeRoute, prefixLengthOf, type XnuGateway, type XnuRoute, XnuTable } from './table.js';

export interface XnuInterface {
  readonly index: number;
  readonly name: string;
  mtu: number;
  up: boolean;
  /** IFF_* as SIOCGIFFLAGS reports them. */
  flags: number;
  addresses: string[];
  /** The pid whose utun socket holds it; closing that socket (or the process dying) detaches it. */
  owner?: number;
}

export interface SimulatedXnuOptions {
  /** Builds the errors the product's RouteSocket contract throws (RouteSyscallError of @ztun/routing-darwin). */
  syscallError: SyscallErrorFactory;
  /** Queue decoys before every copy a socket receives (see the file comment). Default true. */
  noise?: boolean;
}

/** configd's pid in the model: the foreign process that changes the default route. */
export const CONFIGD_PID = 64;

export class SimulatedXnu {
  readonly table = new XnuTable();
  readonly interfaces = new Map<number, XnuInterface>();
  readonly sockets = new Set<XnuRouteSocket>();
  /** Every message written to a route socket, decoded (what the product sent, for assertions). */
  readonly written: (XnuMessage & { errnoReturned: number })[] = [];
  noise: boolean;
  private failWritesLeft = 0;
  private failErrno: number = XnuErrno.ENOBUFS;
  private nextIndex = 1;
  lockHolder: number | undefined;

  constructor(readonly options: SimulatedXnuOptions) {
    this.noise = options.noise ?? true;
    this.addInterface('lo0', { cidr: '127.0.0.1/8' });
  }

  /** A process of this kernel (root: may change routes and open utuns). */
  process(pid: number, root = true): XnuProcess {
    return new XnuProcess(this, pid, root);
  }

  nameOf = (index: number): string => this.interfaces.get(index)?.name ?? `#${index}`;

  indexOf(name: string): number | undefined {
    for (const i of this.interfaces.values()) if (i.name === name) return i.index;
    return undefined;
  }

  /** An interface with its connected route (unscoped, a link gateway), as the kernel adds for an address. */
  addInterface(
    name: string,
    o: { cidr?: string; owner?: number; mtu?: number; flags?: number } = {},
  ): number {
    const index = this.nextIndex++;
    this.interfaces.set(index, {
      index,
      name,
      mtu: o.mtu ?? 1500,
      flags: o.flags ?? 0x8863, // UP|BROADCAST|SMART|RUNNING|SIMPLEX|MULTICAST, as en0
      up: ((o.flags ?? 1) & 1) !== 0,
      addresses: [],
      ...(o.owner ? { owner: o.owner } : {}),
    });
    if (o.cidr) this.addAddress(index, o.cidr);
    return index;
  }

  addAddress(index: number, cidr: string): void {
    const { family, addr, prefixLength } = parseCidrText(cidr);
    this.interfaces.get(index)!.addresses.push(cidr);
    this.table.add({
      family,
      dst: addr,
      prefixLength,
      gateway: { kind: 'link', index },
      flags: RTF_UP,
      ifIndex: index,
      scope: 0,
    });
  }

  /** Removes an interface: its routes go (if_detach), each announced with RTM_DELETE. */
  detachInterface(index: number): void {
    for (const r of this.table.purgeInterface(index)) this.broadcast(this.messageOf(RTM_DELETE, r, 0, 0, 0));
    this.interfaces.delete(index);
  }

  /**
   * What configd does when the primary network changes (Wi-Fi → Ethernet): the unscoped default now goes
   * through `gateway` on `interfaceName`, and (unless `alsoScoped` is false) that interface gets macOS's own
   * untagged scoped default, as IPMonitor installs for each interface.
   */
  setDefault(family: 4 | 6, gateway: string, interfaceName: string, o: { alsoScoped?: boolean } = {}): void {
    const ifIndex = this.indexOf(interfaceName);
    if (ifIndex === undefined) throw new Error(`simulated xnu: no interface ${interfaceName}`);
    const zero = new Uint8Array(family === 4 ? 4 : 16);
    const old = this.table.find(family, zero, 0, 0);
    if (old) {
      this.table.remove(old);
      this.broadcast(this.messageOf(RTM_DELETE, old, CONFIGD_PID, 1, 0));
    }
    const route: XnuRoute = {
      family,
      dst: zero,
      prefixLength: 0,
      gateway: { kind: 'address', addr: parseAddr(gateway) },
      flags: RTF_UP | RTF_GATEWAY | RTF_STATIC,
      ifIndex,
      scope: 0,
    };
    this.table.add(route);
    this.broadcast(this.messageOf(RTM_ADD, route, CONFIGD_PID, 2, 0));
    if (o.alsoScoped ?? true) this.table.add({ ...route, flags: route.flags | RTF_IFSCOPE, scope: ifIndex });
  }

  /** The Mac goes offline: configd deletes the unscoped default of `family`. */
  deleteDefault(family: 4 | 6): void {
    const old = this.table.find(family, new Uint8Array(family === 4 ? 4 : 16), 0, 0);
    if (!old) return;
    this.table.remove(old);
    this.broadcast(this.messageOf(RTM_DELETE, old, CONFIGD_PID, 3, 0));
  }

  /** The next `count` route-socket writes fail with `errno` (default ENOBUFS: "no buffer space"). */
  failWrites(count: number, errno: number = XnuErrno.ENOBUFS): void {
    this.failWritesLeft = count;
    this.failErrno = errno;
  }

  /** Every open route socket loses what it had queued; its next read fails with ENOBUFS. */
  overflowAll(): void {
    for (const s of this.sockets) s.overflow();
  }

  /** The table as sorted lines (compare before/after). */
  snapshot(): string[] {
    return this.table.routes.map((r) => describeRoute(r, this.nameOf)).sort();
  }

  /** The route a lookup of `address` takes: unscoped, or scoped to interface `scopeName` (IP_BOUND_IF). */
  lookup(address: string, scopeName?: string): XnuRoute | undefined {
    const addr = parseAddr(address);
    const scope = scopeName === undefined ? 0 : (this.indexOf(scopeName) ?? -1);
    return this.table.lookup(addr.length === 4 ? 4 : 6, addr, scope);
  }

  openSocket(pid: number): XnuRouteSocket {
    const s = new XnuRouteSocket(
      pid,
      (sock, m) => this.routeOutput(sock, m, pid),
      this.options.syscallError,
      (sock) => this.sockets.delete(sock),
    );
    this.sockets.add(s);
    return s;
  }

  /** sysctl NET_RT_DUMP: one RTM_GET message per route, kernel style (compact netmasks). */
  dump(family: number): Uint8Array {
    const want = family === 2 ? 4 : family === 30 ? 6 : 0;
    const parts = this.table.routes
      .filter((r) => want === 0 || r.family === want)
      .map((r) => encodeMessage(this.messageOf(RTM_GET, r, 0, 0, 0), r.family));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  private messageOf(
    type: number,
    r: XnuRoute,
    pid: number,
    seq: number,
    errno: number,
    withIfp = false,
  ): XnuMessage {
    const inet = (addr: Uint8Array): XnuSockaddr => ({ kind: 'inet', family: r.family, addr, scopeId: 0 });
    const gateway: XnuSockaddr =
      r.gateway.kind === 'address'
        ? inet(r.gateway.addr)
        : { kind: 'link', index: r.gateway.index, name: this.nameOf(r.gateway.index) };
    const full = r.family === 4 ? 32 : 128;
    const mask = new Uint8Array(r.family === 4 ? 4 : 16);
    for (let i = 0; i < r.prefixLength; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
    const addrs: (XnuSockaddr | undefined)[] = [
      inet(r.dst),
      gateway,
      r.prefixLength === full ? undefined : inet(mask),
    ];
    if (withIfp) addrs[4] = { kind: 'link', index: r.ifIndex, name: this.nameOf(r.ifIndex) };
    return { type, index: r.ifIndex, flags: r.flags | (errno === 0 ? RTF_DONE : 0), pid, seq, errno, addrs };
  }

  /** route_output (rtsock.c): apply, broadcast the result to every socket, and return the error from write(). */
  private routeOutput(sender: XnuRouteSocket, bytes: Uint8Array, pid: number): void {
    const error = (errno: number) => this.options.syscallError(errno, 'write', 'write(route socket)');
    if (this.failWritesLeft > 0) {
      this.failWritesLeft--;
      throw error(this.failErrno);
    }
    const decoded = decodeMessage(bytes);
    if ('refused' in decoded) throw error(decoded.refused);
    const msg: XnuMessage = { ...decoded.message, pid }; // rtsock.c:401 overwrites rtm_pid
    const reply = this.apply(msg, pid);
    this.written.push({ ...msg, errnoReturned: reply.errno });
    this.broadcast(reply, sender);
    if (reply.errno !== 0) throw error(reply.errno);
  }

  private apply(msg: XnuMessage, pid: number): XnuMessage {
    const fail = (errno: number): XnuMessage => ({ ...msg, errno });
    if (msg.type !== RTM_GET && pid !== 0 && !this.rootPids.has(pid)) return fail(XnuErrno.EPERM);
    if (![RTM_ADD, RTM_DELETE, RTM_CHANGE, RTM_GET].includes(msg.type)) return fail(XnuErrno.EOPNOTSUPP);
    const dst = msg.addrs[0];
    if (dst?.kind !== 'inet') return fail(XnuErrno.EINVAL);
    const family = dst.family;
    const full = family === 4 ? 32 : 128;
    const mask = maskBytes(msg.addrs[2], family);
    const prefixLength = msg.flags & RTF_HOST || mask === undefined ? full : prefixLengthOf(mask);
    // rtsock.c:470-478: the scope is rtm_index, and only with RTF_IFSCOPE (index 0 = IFSCOPE_NONE).
    const scope = msg.flags & RTF_IFSCOPE ? msg.index : 0;
    if (msg.type === RTM_GET) {
      const r = msg.addrs[2]
        ? this.table.find(family, dst.addr, prefixLength, scope)
        : this.table.lookup(family, dst.addr, scope);
      if (!r) return fail(XnuErrno.ESRCH);
      return this.messageOf(RTM_GET, r, pid, msg.seq, 0, msg.addrs[4] !== undefined);
    }
    const existing = this.table.find(family, dst.addr, prefixLength, scope);
    if (msg.type === RTM_DELETE) {
      if (!existing) return fail(XnuErrno.ESRCH);
      this.table.remove(existing);
      return { ...msg, flags: msg.flags | RTF_DONE };
    }
    const gw = msg.addrs[1];
    if (!gw) return fail(XnuErrno.EINVAL); // rtsock.c:547-550
    let gateway: XnuGateway;
    let ifIndex: number | undefined;
    if (gw.kind === 'link') {
      ifIndex = gw.index || msg.index;
      gateway = { kind: 'link', index: ifIndex };
    } else if (gw.kind === 'inet' && gw.family === family) {
      gateway = { kind: 'address', addr: gw.addr };
      // The gateway must be on a connected subnet: of the scope's interface when scoped (route.c).
      const via = this.table.lookup(family, gw.addr, scope);
      ifIndex = via && via.gateway.kind === 'link' ? via.ifIndex : undefined;
    } else return fail(XnuErrno.EINVAL);
    if (ifIndex === undefined || !this.interfaces.has(ifIndex) || (scope && ifIndex !== scope))
      return fail(XnuErrno.ENETUNREACH);
    const flags = msg.flags & ~RTF_DONE;
    if (msg.type === RTM_CHANGE) {
      if (!existing) return fail(XnuErrno.ESRCH);
      Object.assign(existing, { gateway, ifIndex, flags });
    } else if (!this.table.add({ family, dst: dst.addr, prefixLength, gateway, flags, ifIndex, scope })) {
      return fail(XnuErrno.EEXIST); // route.c:2414
    }
    return { ...msg, flags: msg.flags | RTF_DONE };
  }

  readonly rootPids = new Set<number>();

  /** Sends one message to every open route socket; with noise, decoys go first. */
  private broadcast(m: XnuMessage, sender?: XnuRouteSocket): void {
    const real = encodeMessage(m, (m.addrs[0] as { family?: 4 | 6 } | undefined)?.family);
    for (const s of [...this.sockets]) {
      if (this.noise && sender) for (const d of decoys(m)) s.deliver(d);
      s.deliver(real);
    }
  }
}
