import {
  buildAddress,
  buildListAddresses,
  describeAddress,
  parseAddress,
  resolveAddress,
} from './codec/address.js';
import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  RTM_DELROUTE,
  RTM_DELRULE,
} from './codec/constants.js';
import { ERRNO } from './codec/errno.js';
import {
  buildDeleteLink,
  buildGetLink,
  buildListLinks,
  buildSetLink,
  parseLink,
  parseLinkStats,
} from './codec/link.js';
import {
  MessageBuilder,
  type NetlinkMessage,
  parseDoneErrno,
  parseError,
  parseMessages,
} from './codec/netlink.js';
import {
  buildListRoutes,
  buildRoute,
  describeRoute,
  parseRoute,
  type RouteCommand,
  resolveRoute,
} from './codec/route.js';
import { buildListRules, buildRule, describeRule, parseRule, resolveRule } from './codec/rule.js';
import { NetlinkDecodeError, NetlinkError, RoutingInputError } from './errors.js';
import { ZTUN_RT_PROTOCOL, ZTUN_RULE_PRIORITY_MAX, ZTUN_RULE_PRIORITY_MIN } from './tags.js';
import type { NetlinkTransport } from './transport.js';
import { SyscallError } from './transport.js';
import { LinuxNetlinkTransport } from './transport.linux.js';
import type {
  AddressInfo,
  AddressSpec,
  IpFamily,
  LinkChange,
  LinkInfo,
  LinkStats,
  RouteInfo,
  RouteSpec,
  RuleInfo,
  RuleSpec,
} from './types.js';

export interface RtNetlinkOptions {
  /** Longest wait for the kernel's answer to one request (a whole dump included). Default 5000 ms. */
  timeoutMs?: number;
  /** Replaces the Linux socket (tests). */
  transport?: NetlinkTransport;
}

export interface RouteFilter {
  family?: IpFamily;
  table?: number;
  protocol?: number;
  oif?: number;
}

/** Dumps whose NLM_F_DUMP_INTR says the table changed underneath are retried this many times. */
const DUMP_ATTEMPTS = 3;

/**
 * A synchronous rtnetlink client. Each call sends one request and waits (bounded by `timeoutMs`) for the
 * kernel's answer; replies are matched by sequence number and port id. The socket is opened in `open()` and
 * stays in the network namespace the calling thread was in at that moment.
 */
export class RtNetlink {
  private readonly transport: NetlinkTransport;
  private readonly timeoutMs: number;
  private seq: number;
  private closed = false;

  private constructor(transport: NetlinkTransport, timeoutMs: number) {
    this.transport = transport;
    this.timeoutMs = timeoutMs;
    // Start somewhere unpredictable so a reused port id never matches a stale reply of an earlier socket.
    this.seq = (Date.now() ^ (process.pid << 8)) >>> 0;
  }

  static open(opts: RtNetlinkOptions = {}): RtNetlink {
    const timeoutMs = opts.timeoutMs ?? 5000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RoutingInputError('rtnetlink open', `timeoutMs ${timeoutMs} must be a positive number`);
    }
    let transport = opts.transport;
    if (!transport) {
      try {
        transport = new LinuxNetlinkTransport();
      } catch (err) {
        throw toNetlinkError('rtnetlink open', err);
      }
    }
    return new RtNetlink(transport, timeoutMs);
  }

  // ---- links ----

  getLink(nameOrIndex: string | number): LinkInfo {
    const op = `link get ${nameOrIndex}`;
    for (const m of this.request(op, buildGetLink(nameOrIndex))) {
      const l = parseLink(m);
      if (l) return l;
    }
    throw new NetlinkError(op, ERRNO.ENODEV, 'the kernel sent no link');
  }

  /** The link's IFLA_STATS64 counters (what `ip -s link show` prints), read fresh from the kernel. */
  getLinkStats(nameOrIndex: string | number): LinkStats {
    const op = `link stats ${nameOrIndex}`;
    for (const m of this.request(op, buildGetLink(nameOrIndex, true))) {
      const s = parseLinkStats(m);
      if (s) return s;
    }
    throw new NetlinkError(op, ERRNO.ENODEV, 'the kernel sent no link statistics');
  }

  listLinks(): LinkInfo[] {
    return this.dump('link list', buildListLinks(), parseLink);
  }

  setLink(index: number, change: LinkChange): void {
    const parts = [`link set #${index}`];
    if (change?.up !== undefined) parts.push(change.up ? 'up' : 'down');
    if (change?.mtu !== undefined) parts.push(`mtu ${change.mtu}`);
    if (change?.txQueueLen !== undefined) parts.push(`txqueuelen ${change.txQueueLen}`);
    const op = parts.join(' ');
    this.request(op, buildSetLink(index, change ?? {}));
  }

  /** Deletes a link (RTM_DELLINK), e.g. a TUN whose reader must be woken, or a veth pair. */
  deleteLink(index: number): void {
    this.request(`link delete #${index}`, buildDeleteLink(index));
  }

  // ---- addresses ----

  addAddress(a: AddressSpec): void {
    const op = describeAddress('add', a);
    this.request(op, buildAddress('add', resolveAddress(op, a)));
  }

  deleteAddress(a: AddressSpec): void {
    const op = describeAddress('delete', a);
    this.request(op, buildAddress('delete', resolveAddress(op, a)));
  }

  listAddresses(filter: { family?: IpFamily; index?: number } = {}): AddressInfo[] {
    return this.dump('address list', buildListAddresses(filter.family), parseAddress).filter(
      (a) =>
        (filter.family === undefined || a.family === filter.family) &&
        (filter.index === undefined || a.index === filter.index),
    );
  }

  // ---- routes ----

  addRoute(r: RouteSpec): void {
    this.route('add', r);
  }

  replaceRoute(r: RouteSpec): void {
    this.route('replace', r);
  }

  deleteRoute(r: RouteSpec): void {
    this.route('delete', r);
  }

  private route(cmd: RouteCommand, r: RouteSpec): void {
    const op = describeRoute(cmd, r);
    this.request(op, buildRoute(cmd, resolveRoute(op, cmd, r)));
  }

  /** Every route of the given family (both by default) in every table, optionally filtered. */
  listRoutes(filter: RouteFilter = {}): RouteInfo[] {
    return this.dump('route list', buildListRoutes(filter.family), parseRoute).filter(
      (r) =>
        (filter.family === undefined || r.family === filter.family) &&
        (filter.table === undefined || r.table === filter.table) &&
        (filter.protocol === undefined || r.protocol === filter.protocol) &&
        (filter.oif === undefined || r.oif === filter.oif),
    );
  }

  // ---- rules ----

  addRule(r: RuleSpec): void {
    const op = describeRule('add', r);
    this.request(op, buildRule('add', resolveRule(op, 'add', r)));
  }

  deleteRule(r: RuleSpec): void {
    const op = describeRule('delete', r);
    this.request(op, buildRule('delete', resolveRule(op, 'delete', r)));
  }

  listRules(filter: { family?: IpFamily } = {}): RuleInfo[] {
    return this.dump('rule list', buildListRules(filter.family), parseRule).filter(
      (r) => filter.family === undefined || r.family === filter.family,
    );
  }

  // ---- cleanup ----

  /**
   * Removes every route whose protocol is ZTUN_RT_PROTOCOL (all tables, both families) and every rule whose
   * priority is in ZTUN_RULE_PRIORITY_MIN..MAX, whoever added it. Each entry is deleted by sending its own
   * dumped message back as RTM_DELROUTE/RTM_DELRULE (as `ip route flush` does), so it matches exactly.
   */
  flushZtun(): { routes: number; rules: number } {
    let routes = 0;
    for (const m of this.dumpRaw('route flush (list)', buildListRoutes())) {
      const r = parseRoute(m);
      if (!r || r.protocol !== ZTUN_RT_PROTOCOL) continue;
      const op = `route flush ${r.dst} table ${r.table}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`;
      if (this.deleteEcho(op, RTM_DELROUTE, m)) routes++;
    }
    let rules = 0;
    for (const m of this.dumpRaw('rule flush (list)', buildListRules())) {
      const r = parseRule(m);
      if (!r || r.priority < ZTUN_RULE_PRIORITY_MIN || r.priority > ZTUN_RULE_PRIORITY_MAX) continue;
      if (this.deleteEcho(`rule flush -${r.family} priority ${r.priority}`, RTM_DELRULE, m)) rules++;
    }
    return { routes, rules };
  }

  /** Sends a dumped entry back with a delete type; false when it was already gone (ESRCH/ENOENT). */
  private deleteEcho(op: string, type: number, dumped: NetlinkMessage): boolean {
    try {
      this.request(op, new MessageBuilder(type, NLM_F_REQUEST | NLM_F_ACK).struct(dumped.payload));
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && (err.code === 'ESRCH' || err.code === 'ENOENT')) return false;
      throw err;
    }
  }

  /** Closes the socket. Idempotent; later calls throw NetlinkError EBADF. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
  }

  // ---- request machinery ----

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private dump<T>(op: string, builder: MessageBuilder, parse: (m: NetlinkMessage) => T | undefined): T[] {
    const out: T[] = [];
    for (const m of this.dumpRaw(op, builder)) {
      let v: T | undefined;
      try {
        v = parse(m);
      } catch (err) {
        throw toNetlinkError(op, err);
      }
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  private dumpRaw(op: string, builder: MessageBuilder): NetlinkMessage[] {
    if (!(builder.flags & NLM_F_DUMP)) throw new Error(`${op}: not a dump request`);
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = this.exchange(op, builder);
      if (!interrupted) return messages;
      if (attempt >= DUMP_ATTEMPTS) {
        throw new NetlinkError(op, ERRNO.EAGAIN, `dump interrupted by changes ${DUMP_ATTEMPTS} times`);
      }
    }
  }

  /** Sends a request that carries NLM_F_ACK; returns the data messages that came before the ack. */
  private request(op: string, builder: MessageBuilder): NetlinkMessage[] {
    return this.exchange(op, builder).messages;
  }

  private exchange(
    op: string,
    builder: MessageBuilder,
  ): { messages: NetlinkMessage[]; interrupted: boolean } {
    if (this.closed) throw new NetlinkError(op, ERRNO.EBADF, 'RtNetlink is closed');
    const seq = this.nextSeq();
    const isDump = (builder.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const deadline = Date.now() + this.timeoutMs;
    const messages: NetlinkMessage[] = [];
    let interrupted = false;
    try {
      this.transport.send(builder.finish(seq, this.transport.portId));
      for (;;) {
        const left = deadline - Date.now();
        const datagram = left > 0 ? this.transport.receive(left) : undefined;
        if (!datagram) {
          throw new NetlinkError(
            op,
            ERRNO.ETIMEDOUT,
            `no answer from the kernel within ${this.timeoutMs} ms`,
          );
        }
        for (const m of parseMessages(datagram)) {
          // Replies to an earlier request that timed out, or broadcasts, are not ours: skip them.
          if (m.seq !== seq || (m.pid !== this.transport.portId && m.pid !== 0)) continue;
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_ERROR) {
            const e = parseError(m);
            if (e.errno !== 0) throw new NetlinkError(op, e.errno, undefined, e.kernelMessage);
            if (!isDump) return { messages, interrupted };
            continue;
          }
          if (m.type === NLMSG_DONE) {
            const errno = parseDoneErrno(m);
            if (errno !== 0) throw new NetlinkError(op, errno, 'dump failed');
            return { messages, interrupted };
          }
          if (m.type === NLMSG_NOOP) continue;
          if (m.type === NLMSG_OVERRUN) throw new NetlinkError(op, ERRNO.EAGAIN, 'netlink overrun');
          messages.push(m);
        }
      }
    } catch (err) {
      throw toNetlinkError(op, err);
    }
  }
}

function toNetlinkError(op: string, err: unknown): Error {
  if (err instanceof NetlinkError || err instanceof RoutingInputError) return err;
  if (err instanceof SyscallError) return new NetlinkError(op, err.errno, `${err.syscall} failed`);
  if (err instanceof NetlinkDecodeError) return new NetlinkError(op, 71 /* EPROTO */, err.message);
  return err instanceof Error ? err : new Error(String(err));
}
