import {
  AF_INET,
  AF_INET6,
  DarwinErrno,
  RTF_GATEWAY,
  RTF_HOST,
  RTF_IFSCOPE,
  RTF_PROTO1,
  RTF_STATIC,
  RTF_UP,
  RTM_ADD,
  RTM_CHANGE,
  RTM_DELETE,
  RTM_GET,
} from './constants.js';
import {
  RouteInputError,
  RouteMessageError,
  RouteNotFoundError,
  RouteSyscallError,
  RouteTimeoutError,
  routeErrorFromErrno,
} from './errors.js';
import { formatIp, type IpFamily, maskPrefixLength, parseIp, parsePrefix, prefixMask } from './ip.js';
import {
  decodeRouteDump,
  decodeRoutingMessage,
  encodeRouteMessage,
  type RouteAddresses,
  type RouteMessage,
  type RouteMessageInit,
} from './message.js';
import { type RouteSockaddr, roundup32 } from './sockaddr.js';

/**
 * One AF_ROUTE raw socket. The macOS implementation (route-socket.darwin.ts) wraps socket(2)/write(2)/
 * read(2) through koffi; tests use a fake. Errors are RouteSyscallError carrying darwin's errno.
 */
export interface RouteSocket {
  /** write() one whole message. xnu returns the routing error from write itself (EEXIST, ESRCH…). */
  write(message: Uint8Array): Promise<void>;
  /** Waits at most `timeoutMs` for one message; resolves with its length, or 0 if none came in time. */
  read(buffer: Uint8Array, timeoutMs: number): Promise<number>;
  close(): void;
}

/** The OS edge the client needs: fresh route sockets, routing-table dumps, our pid. */
export interface RouteSystem {
  /** The pid the kernel writes into rtm_pid of our messages (it overwrites whatever we send). */
  readonly pid: number;
  openRouteSocket(): Promise<RouteSocket>;
  /** sysctl {CTL_NET, PF_ROUTE, 0, family, NET_RT_DUMP, 0}: rt_msghdr messages back to back. */
  dumpRoutes(family: number): Promise<Uint8Array>;
}

export interface RouteClientOptions {
  /** Wait for the matching reply this long per attempt. Default 1000 ms (netbird's budget). */
  replyTimeoutMs?: number;
  /** Attempts for ENOBUFS/EAGAIN on write (and, for RTM_GET, a missing reply). Default 5. */
  maxAttempts?: number;
  /** Exponential backoff between attempts: initial and cap. Defaults 50 ms and 500 ms (netbird). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Zero bytes appended to each request and counted in rtm_msglen (see EncodeOptions). Default 1024. */
  requestPadding?: number;
  /** Injected clock and sleep, for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RouteReply {
  /** The kernel's copy of our message (with RTF_DONE, or the filled-in route for RTM_GET). */
  reply: RouteMessage | null;
  /** Attempts used (1 when the first write and reply went through). */
  attempts: number;
  /** Messages on the socket that were not our reply (other processes' changes, interface events…). */
  skipped: number;
}

export type RouteGateway =
  | { kind: 'address'; address: string; scopeId?: number }
  | { kind: 'link'; index: number; name?: string }
  | { kind: 'none' };

/** A route as read back from the kernel (RTM_GET reply or dump entry). */
export interface RouteEntry {
  family: IpFamily;
  /** CIDR, e.g. `0.0.0.0/0`, `10.0.0.0/8`, `fd00::1/128`. */
  destination: string;
  prefixLength: number;
  gateway: RouteGateway;
  /** rtm_index: the route's interface (its scope when `scoped`). */
  interfaceIndex: number;
  /** From the RTA_IFP sockaddr_dl, when the kernel sent one. */
  interfaceName?: string;
  flags: number;
  scoped: boolean;
  /** Carries RTF_PROTO1, ztun's tag. */
  tagged: boolean;
}

export interface RouteSpec {
  /** `10.0.0.0/8`, `fd00::/8`, or one address (a host route). */
  destination: string;
  /** Next-hop IP address (sets RTF_GATEWAY). For IPv6 link-local, add `%<index>` or give `interfaceIndex`. */
  gateway?: string;
  /**
   * The interface. Without a gateway this makes an interface route: the gateway is a sockaddr_dl of that
   * interface and RTF_GATEWAY stays clear — the right form for point-to-point utun (seed 002: a
   * `-gateway` on such a route sent traffic out of en0).
   */
  interfaceIndex?: number;
  /** Put the interface name in the sockaddr_dl gateway too (optional; the kernel uses the index). */
  interfaceName?: string;
  /** RTF_IFSCOPE with rtm_index = interfaceIndex: the route applies only to traffic scoped to it. */
  scoped?: boolean;
  /** Tag with RTF_PROTO1 (ztun's marker, flushed by flushScopedDefaults when scoped and default). */
  tag?: boolean;
  /** Extra RTF_* bits to OR in. */
  flags?: number;
}

export interface ScopedDefaultSpec {
  family: IpFamily;
  /** The physical egress interface (en0…), whose index pins the route. */
  interfaceIndex: number;
  /** The egress's next hop. Omit on point-to-point links: the gateway is then the interface itself. */
  gateway?: string;
  interfaceName?: string;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const READ_BUFFER_BYTES = 8192;

function isRetryableWriteErrno(errno: number): boolean {
  return errno === DarwinErrno.ENOBUFS || errno === DarwinErrno.EAGAIN;
}

function typeName(type: number): string {
  return (
    ({ 1: 'RTM_ADD', 2: 'RTM_DELETE', 3: 'RTM_CHANGE', 4: 'RTM_GET' } as Record<number, string>)[type] ??
    `RTM_${type}`
  );
}

function describeDestination(addresses: RouteAddresses | undefined): string {
  const dst = addresses?.dst;
  return dst && (dst.family === 'inet' || dst.family === 'inet6') ? ` ${dst.address}` : '';
}

/** Builds the message of a route (without type/seq/pid). Throws RouteInputError on a bad spec. */
export function buildRouteMessage(type: number, spec: RouteSpec): RouteMessageInit {
  const prefix = parsePrefix(spec.destination);
  if (prefix === null) throw new RouteInputError(`bad destination: ${JSON.stringify(spec.destination)}`);
  const family = prefix.family;
  const maxLength = family === 'inet' ? 32 : 128;
  let flags = RTF_UP | RTF_STATIC | (spec.flags ?? 0);
  if (spec.tag) flags |= RTF_PROTO1;
  const addresses: RouteAddresses = { dst: { family, address: formatIp(prefix.bytes) } };
  if (prefix.prefixLength === maxLength) {
    flags |= RTF_HOST;
  } else {
    // Full-length netmask, as route(8), golang/net and netbird send; the kernel compacts it itself.
    addresses.netmask = { family, address: formatIp(prefixMask(family, prefix.prefixLength)) };
  }
  const index = spec.interfaceIndex;
  if (index !== undefined && (!Number.isInteger(index) || index < 1 || index > 0xffff)) {
    throw new RouteInputError(`bad interface index: ${index}`);
  }
  if (spec.gateway !== undefined) {
    const gw = parseIp(spec.gateway);
    if (gw === null || gw.family !== family) {
      throw new RouteInputError(
        `gateway ${JSON.stringify(spec.gateway)} is not an address of the destination's family`,
      );
    }
    flags |= RTF_GATEWAY;
    if (gw.family === 'inet6') {
      let scopeId = 0;
      if (gw.zone !== undefined) {
        if (!/^[0-9]+$/.test(gw.zone))
          throw new RouteInputError('give the gateway zone as an interface index');
        scopeId = Number(gw.zone);
      } else if (gw.bytes[0] === 0xfe && (gw.bytes[1]! & 0xc0) === 0x80 && index !== undefined) {
        scopeId = index;
      }
      addresses.gateway =
        scopeId > 0
          ? { family: 'inet6', address: formatIp(gw.bytes), scopeId }
          : { family: 'inet6', address: formatIp(gw.bytes) };
    } else {
      addresses.gateway = { family: 'inet', address: formatIp(gw.bytes) };
    }
  } else if (index !== undefined) {
    addresses.gateway =
      spec.interfaceName === undefined
        ? { family: 'link', index }
        : { family: 'link', index, name: spec.interfaceName };
  } else if (type === RTM_ADD || type === RTM_CHANGE) {
    throw new RouteInputError('a route needs a gateway or an interface index');
  }
  if (spec.scoped) {
    if (index === undefined) throw new RouteInputError('a scoped route needs interfaceIndex (rtm_index)');
    flags |= RTF_IFSCOPE;
  }
  return { type, flags, index: index ?? 0, addresses };
}

/** The scoped default of seed 004: UP|STATIC|IFSCOPE|PROTO1, rtm_index = egress, DST and NETMASK all-zero. */
export function buildScopedDefaultMessage(type: number, spec: ScopedDefaultSpec): RouteMessageInit {
  const init = buildRouteMessage(type, {
    destination: spec.family === 'inet' ? '0.0.0.0/0' : '::/0',
    interfaceIndex: spec.interfaceIndex,
    scoped: true,
    tag: true,
    ...(spec.gateway === undefined ? {} : { gateway: spec.gateway }),
    ...(spec.interfaceName === undefined ? {} : { interfaceName: spec.interfaceName }),
  });
  return init;
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

function gatewayOf(sa: RouteSockaddr | undefined): RouteGateway {
  if (sa === undefined) return { kind: 'none' };
  if (sa.family === 'inet') return { kind: 'address', address: sa.address };
  if (sa.family === 'inet6') {
    return sa.scopeId
      ? { kind: 'address', address: sa.address, scopeId: sa.scopeId }
      : { kind: 'address', address: sa.address };
  }
  if (sa.family === 'link')
    return sa.name ? { kind: 'link', index: sa.index, name: sa.name } : { kind: 'link', index: sa.index };
  return { kind: 'none' };
}

/** Turns a decoded route message into a RouteEntry; null for a non-IP destination (AF_LINK…). */
export function routeEntryFromMessage(
  message: Pick<RouteMessage, 'flags' | 'index' | 'addresses'>,
): RouteEntry | null {
  const dst = message.addresses.dst;
  if (dst === undefined || (dst.family !== 'inet' && dst.family !== 'inet6')) return null;
  const family = dst.family;
  const maxLength = family === 'inet' ? 32 : 128;
  let prefixLength = maxLength;
  const mask = message.addresses.netmask;
  if ((message.flags & RTF_HOST) === 0) {
    if (mask && (mask.family === 'inet' || mask.family === 'inet6')) {
      const bytes = parseIp(mask.address)?.bytes;
      prefixLength = (bytes && maskPrefixLength(bytes)) ?? maxLength;
    } else if (mask?.family === 'empty' || (mask === undefined && isUnspecified(dst.address))) {
      // A zero-length mask is /0; so is a non-host 0.0.0.0 or :: with no mask at all (a default route).
      prefixLength = 0;
    }
  }
  const entry: RouteEntry = {
    family,
    destination: `${dst.address}/${prefixLength}`,
    prefixLength,
    gateway: gatewayOf(message.addresses.gateway),
    interfaceIndex: message.index,
    flags: message.flags,
    scoped: (message.flags & RTF_IFSCOPE) !== 0,
    tagged: (message.flags & RTF_PROTO1) !== 0,
  };
  const ifp = message.addresses.ifp;
  if (ifp?.family === 'link' && ifp.name) entry.interfaceName = ifp.name;
  return entry;
}

/**
 * Route-socket requests with reply matching, deadlines and retries, and the small API the CLI uses.
 * OS-free: everything OS-specific is behind RouteSystem.
 */
export class RouteClient {
  private seq = 0;
  private readonly replyTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly padding: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly system: RouteSystem,
    options: RouteClientOptions = {},
  ) {
    this.replyTimeoutMs = options.replyTimeoutMs ?? 1000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.initialBackoffMs = options.initialBackoffMs ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 500;
    this.padding = options.requestPadding ?? 1024;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0x7fffffff ? 1 : this.seq + 1;
    return this.seq;
  }

  private backoff(attempt: number): number {
    return Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
  }

  /**
   * Writes one message (type from `init`; seq and pid assigned here) and waits for the kernel's copy
   * with the same type, seq and pid, skipping every other message on the socket.
   *
   * - write() failing with ENOBUFS/EAGAIN: retried with backoff (fresh socket, fresh seq), bounded.
   * - write() failing otherwise (EEXIST, ESRCH, EPERM…): a typed RouteSyscallError at once.
   * - reply with rtm_errno ≠ 0: the typed error for that errno.
   * - no reply by the deadline: RTM_GET is retried, then RouteTimeoutError. For changes, a write() that
   *   succeeded means xnu applied it (it returns routing errors from write), so this resolves with
   *   `reply: null` instead of failing.
   */
  async request(init: RouteMessageInit): Promise<RouteReply> {
    const operation = `${typeName(init.type)}${describeDestination(init.addresses)}`;
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let skipped = 0;
    let lastError: Error | null = null;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await this.sleep(this.backoff(attempt - 1));
      const seq = this.nextSeq();
      const pid = this.system.pid;
      const bytes = encodeRouteMessage({ ...init, seq, pid }, { padding: this.padding });
      const socket = await this.system.openRouteSocket();
      try {
        try {
          await socket.write(bytes);
        } catch (error) {
          if (error instanceof RouteSyscallError) {
            if (isRetryableWriteErrno(error.errno)) {
              lastError = error;
              continue;
            }
            throw routeErrorFromErrno(error.errno, 'write', operation);
          }
          throw error;
        }
        const deadline = this.now() + this.replyTimeoutMs;
        for (;;) {
          const remaining = deadline - this.now();
          if (remaining <= 0) break;
          let length: number;
          try {
            length = await socket.read(buffer, remaining);
          } catch (error) {
            // ENOBUFS on read: the socket overflowed and dropped messages; ours may still come.
            if (
              error instanceof RouteSyscallError &&
              (error.errno === DarwinErrno.ENOBUFS || error.errno === DarwinErrno.EINTR)
            ) {
              continue;
            }
            throw error;
          }
          if (length <= 0) continue;
          const decoded = decodeRoutingMessage(buffer, 0, Math.min(length, buffer.length));
          if (!decoded.ok || decoded.value.kind !== 'route') {
            skipped++;
            continue;
          }
          const message = decoded.value.message;
          if (message.type !== init.type || message.seq !== seq || message.pid !== pid) {
            skipped++;
            continue;
          }
          if (message.errno !== 0) throw routeErrorFromErrno(message.errno, 'rtm_errno', operation);
          return { reply: message, attempts: attempt, skipped };
        }
        if (init.type !== RTM_GET) return { reply: null, attempts: attempt, skipped };
        lastError = new RouteTimeoutError(`${operation}: no reply within ${this.replyTimeoutMs} ms`);
      } finally {
        socket.close();
      }
    }
    if (lastError instanceof RouteSyscallError)
      throw routeErrorFromErrno(lastError.errno, 'write', operation);
    throw lastError ?? new RouteTimeoutError(`${operation}: no reply`);
  }

  /** RTM_ADD. Throws RouteExistsError when the route is already there. */
  async addRoute(spec: RouteSpec): Promise<RouteReply> {
    return this.request(buildRouteMessage(RTM_ADD, spec));
  }

  /** RTM_DELETE. Throws RouteNotFoundError when there is no such route. */
  async deleteRoute(spec: RouteSpec): Promise<RouteReply> {
    return this.request(buildRouteMessage(RTM_DELETE, spec));
  }

  /** RTM_CHANGE: new gateway/interface for an existing route. */
  async changeRoute(spec: RouteSpec): Promise<RouteReply> {
    return this.request(buildRouteMessage(RTM_CHANGE, spec));
  }

  /**
   * RTM_GET: the route the kernel would use for `destination` (an address, or a prefix for an exact
   * match); with `scopedTo`, the lookup is scoped to that interface. Resolves null when there is none.
   */
  async getRoute(destination: string, options: { scopedTo?: number } = {}): Promise<RouteEntry | null> {
    const init = buildRouteMessage(RTM_GET, {
      destination,
      ...(options.scopedTo === undefined ? {} : { interfaceIndex: options.scopedTo, scoped: true }),
    });
    // Ask for the interface too, as route(8) does: an empty sockaddr_dl in RTA_IFP.
    init.addresses = { ...init.addresses, ifp: { family: 'link', index: 0 } };
    delete init.addresses.gateway;
    try {
      const { reply } = await this.request(init);
      return reply ? routeEntryFromMessage(reply) : null;
    } catch (error) {
      if (error instanceof RouteNotFoundError) return null;
      throw error;
    }
  }

  /** Every route of one family (or both with no argument), from sysctl NET_RT_DUMP. */
  async listRoutes(family?: IpFamily): Promise<RouteEntry[]> {
    const af = family === 'inet' ? AF_INET : family === 'inet6' ? AF_INET6 : 0;
    const dump = decodeRouteDump(await this.system.dumpRoutes(af));
    if (!dump.ok) throw dump.error;
    const entries: RouteEntry[] = [];
    for (const item of dump.value) {
      if (item.kind === 'other') continue;
      const entry = routeEntryFromMessage(item.message);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /**
   * Installs seed 004's scoped default for one family, pinned to the physical egress and tagged
   * RTF_PROTO1. EEXIST is not an error (macOS keeps its own scoped defaults): `created` is then false.
   */
  async addScopedDefault(spec: ScopedDefaultSpec): Promise<{ created: boolean }> {
    try {
      await this.request(buildScopedDefaultMessage(RTM_ADD, spec));
      return { created: true };
    } catch (error) {
      if (error instanceof RouteSyscallError && error.errno === DarwinErrno.EEXIST) return { created: false };
      throw error;
    }
  }

  /** Removes our scoped default of one family; false when it was not there. */
  async deleteScopedDefault(spec: ScopedDefaultSpec): Promise<boolean> {
    try {
      await this.request(buildScopedDefaultMessage(RTM_DELETE, spec));
      return true;
    } catch (error) {
      if (error instanceof RouteNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Deletes every scoped default tagged RTF_PROTO1 (a crashed run's leftovers), both families.
   * Returns how many were deleted. Untagged routes — macOS's own scoped defaults — are left alone.
   */
  async flushScopedDefaults(): Promise<number> {
    const dump = decodeRouteDump(await this.system.dumpRoutes(0));
    if (!dump.ok) throw dump.error;
    let deleted = 0;
    const failures: Error[] = [];
    for (const item of dump.value) {
      if (item.kind !== 'route') continue;
      const message = item.message;
      if (!isTaggedScopedDefault(message)) continue;
      const keep = RTF_UP | RTF_STATIC | RTF_GATEWAY | RTF_IFSCOPE | RTF_PROTO1;
      const addresses: RouteAddresses = {};
      if (message.addresses.dst) addresses.dst = message.addresses.dst;
      if (message.addresses.gateway) addresses.gateway = message.addresses.gateway;
      if (message.addresses.netmask) addresses.netmask = message.addresses.netmask;
      try {
        await this.request({
          type: RTM_DELETE,
          flags: message.flags & keep,
          index: message.index,
          addresses,
        });
        deleted++;
      } catch (error) {
        if (error instanceof RouteNotFoundError) continue; // already gone
        failures.push(error as Error);
      }
    }
    if (failures.length > 0) throw failures[0];
    return deleted;
  }
}

/** True for a default route (0.0.0.0/0 or ::/0) carrying both RTF_IFSCOPE and RTF_PROTO1. */
export function isTaggedScopedDefault(message: Pick<RouteMessage, 'flags' | 'index' | 'addresses'>): boolean {
  if ((message.flags & RTF_IFSCOPE) === 0 || (message.flags & RTF_PROTO1) === 0) return false;
  const entry = routeEntryFromMessage(message);
  return entry !== null && entry.prefixLength === 0;
}

// Re-exported for callers that size their own buffers.
export { RouteMessageError, roundup32 };
