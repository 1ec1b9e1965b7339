import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { ipFamily } from './cidr.js';
import {
  type DnsAnswer,
  DnsQueryError,
  type Nameserver,
  queryAddresses,
  systemNameservers,
  type UdpSocketFactory,
} from './dns-query.js';
import type { Logger } from './log.js';

// The SOCKS5 proxy's address when it is given by name. Resolved once before any route goes in, then held
// in memory: every connection reads the cached address (never a lookup per connection), and a timer
// re-resolves it when the answer's TTL runs out, over sockets that bypass the tunnel. Without this, with
// --auto-route, the OS resolver's queries enter the tunnel, which needs the proxy, whose name needs the
// resolver: start-up stalled ~11 s on EAI_AGAIN and every connection hung.
//
// Sources, in the order the system's `hosts: files dns` uses them: the hosts file (static, never
// refreshed), then DNS (refreshed by TTL). When DNS says the name does not exist, or there is no
// nameserver, getaddrinfo gets a last try before the routes go in (search domains, mDNS, other NSS
// modules); what it finds is kept for the whole run, since it has no TTL and cannot be asked off the
// tunnel later.

export const RESOLVE_DEADLINE_MS = 10_000;
export const PROGRESS_AFTER_MS = 1000;
const QUERY_TIMEOUT_MS = 2000;
const QUERY_TRIES = 2;
/** Re-resolution never more often than this (a TTL of 0 would otherwise mean a query per connection). */
export const REFRESH_MIN_MS = 5000;
const REFRESH_MAX_MS = 3_600_000;
const RETRY_MAX_MS = 300_000;

export type ProxyAddressSource = 'literal' | 'hosts' | 'dns' | 'system';

export class ProxyResolveError extends Error {
  override readonly name = 'ProxyResolveError';
}

/** resolve() gave up because its signal aborted (SIGINT during start-up, close() before ready). */
export class ProxyResolveAborted extends Error {
  override readonly name = 'ProxyResolveAborted';
}

export interface ProxyAddressOptions {
  readonly host: string;
  readonly log: Logger;
  /** Sockets for DNS queries (ztun's carry its fwmark). */
  readonly sockets: UdpSocketFactory;
  /** Default: /etc/resolv.conf, read afresh each time. */
  readonly nameservers?: () => readonly Nameserver[];
  /** Default /etc/hosts. */
  readonly hostsFile?: string;
  /** Default: getaddrinfo. */
  readonly systemLookup?: (host: string) => Promise<string[]>;
  readonly deadlineMs?: number;
  readonly progressAfterMs?: number;
  readonly refreshMinMs?: number;
  readonly queryTimeoutMs?: number;
  /** Aborts resolve() at once (its queries' answers are then ignored). */
  readonly signal?: AbortSignal;
}

/** Addresses for `host` in a hosts(5) file, in file order. */
export function hostsFileAddresses(host: string, path = '/etc/hosts'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const want = host.replace(/\.$/, '').toLowerCase();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && ipFamily(address) && names.some((n) => n.replace(/\.$/, '').toLowerCase() === want))
      out.push(address);
  }
  return out;
}

async function systemLookup(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

export class ProxyAddress {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  private constructor(
    private readonly opts: ProxyAddressOptions,
    private current: readonly string[],
    readonly source: ProxyAddressSource,
  ) {}

  /**
   * Resolves `host` now (one progress line after a second, at most `deadlineMs`). Throws ProxyResolveError
   * with one line saying why when it does not resolve.
   */
  static async resolve(opts: ProxyAddressOptions): Promise<ProxyAddress> {
    if (ipFamily(opts.host)) return new ProxyAddress(opts, [opts.host], 'literal');
    const fromHosts = hostsFileAddresses(opts.host, opts.hostsFile);
    if (fromHosts.length > 0) return new ProxyAddress(opts, fromHosts, 'hosts');
    const progress = setTimeout(
      () => opts.log.info(`resolving proxy host ${opts.host} …`),
      opts.progressAfterMs ?? PROGRESS_AFTER_MS,
    );
    const deadlineMs = opts.deadlineMs ?? RESOLVE_DEADLINE_MS;
    let deadline: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const work = ProxyAddress.resolveNow(opts);
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new ProxyResolveAborted(`resolving proxy host ${opts.host} aborted`));
          if (opts.signal?.aborted) onAbort();
          else opts.signal?.addEventListener('abort', onAbort, { once: true });
        }),
        new Promise<never>((_, reject) => {
          deadline = setTimeout(
            () =>
              reject(
                new ProxyResolveError(`proxy host ${opts.host} did not resolve within ${deadlineMs} ms`),
              ),
            deadlineMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(progress);
      clearTimeout(deadline);
      if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
      // An abandoned resolution still settles: its address (with a refresh timer) is let go.
      work.then(
        (p) => {
          if (opts.signal?.aborted) p.stop();
        },
        () => {},
      );
    }
  }

  private static async resolveNow(opts: ProxyAddressOptions): Promise<ProxyAddress> {
    let dnsFailure: DnsQueryError;
    try {
      const answer = await queryDns(opts);
      const p = new ProxyAddress(opts, answer.addresses, 'dns');
      p.schedule(clampTtl(answer.ttlS, opts));
      return p;
    } catch (err) {
      if (!(err instanceof DnsQueryError)) throw err;
      dnsFailure = err;
    }
    // Only a name DNS says is not there (or no DNS at all) is worth asking the rest of NSS about; after a
    // timeout getaddrinfo would wait on the same servers.
    if (dnsFailure.kind === 'nxdomain' || dnsFailure.kind === 'nodata') {
      try {
        const found = await (opts.systemLookup ?? systemLookup)(opts.host);
        if (found.length > 0) {
          opts.log.info(
            `proxy host ${opts.host} resolved by the system resolver only (${found.join(', ')}): kept for the whole run`,
          );
          return new ProxyAddress(opts, found, 'system');
        }
      } catch {
        // report the DNS failure, the more telling one
      }
    }
    throw new ProxyResolveError(`proxy host ${opts.host} did not resolve: ${dnsFailure.message}`);
  }

  /** Every address, IPv4 first. */
  get addresses(): readonly string[] {
    return this.current;
  }

  /** The address new connections use. */
  address(): string {
    return this.current[0]!;
  }

  /** Stops background re-resolution. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped || this.source !== 'dns') return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), ms);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    const { host, log } = this.opts;
    let answer: DnsAnswer;
    try {
      answer = await queryDns(this.opts);
    } catch (err) {
      if (this.stopped) return;
      const minMs = this.opts.refreshMinMs ?? REFRESH_MIN_MS;
      const retryMs = Math.min(minMs * 2 ** this.failures, RETRY_MAX_MS);
      if (this.failures++ === 0)
        log.warn(
          `re-resolving proxy host ${host} failed (${(err as Error).message}); keeping ${this.current.join(', ')}, retrying`,
        );
      this.schedule(retryMs);
      return;
    }
    if (this.stopped) return;
    if (this.failures > 0) log.info(`proxy host ${host} resolves again`);
    this.failures = 0;
    const before = this.current.join(', ');
    const after = answer.addresses.join(', ');
    if (after !== before) {
      log.info(
        `proxy host ${host} now resolves to ${after} (was ${before}); new connections use ${answer.addresses[0]}`,
      );
      this.current = answer.addresses;
    } else {
      log.debug(`proxy host ${host} re-resolved: ${after} (TTL ${answer.ttlS} s)`);
    }
    this.schedule(clampTtl(answer.ttlS, this.opts));
  }
}

function clampTtl(ttlS: number, opts: ProxyAddressOptions): number {
  return Math.min(Math.max(ttlS * 1000, opts.refreshMinMs ?? REFRESH_MIN_MS), REFRESH_MAX_MS);
}

/**
 * A and AAAA from each nameserver in turn until one answers; IPv4 first. A name the first answering
 * server says does not exist is not asked of the others (they serve the same view).
 */
async function queryDns(opts: ProxyAddressOptions): Promise<DnsAnswer> {
  const servers = (opts.nameservers ?? systemNameservers)();
  if (servers.length === 0) throw new DnsQueryError('no nameserver in /etc/resolv.conf', 'nodata');
  const q = { sockets: opts.sockets, timeoutMs: opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS, tries: QUERY_TRIES };
  const failures: string[] = [];
  for (const server of servers) {
    const [a, aaaa] = await Promise.allSettled([
      queryAddresses(server, opts.host, 'A', q),
      queryAddresses(server, opts.host, 'AAAA', q),
    ]);
    const answers = [a, aaaa].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (answers.length > 0) {
      return {
        addresses: answers.flatMap((x) => x.addresses),
        ttlS: Math.min(...answers.map((x) => x.ttlS)),
      };
    }
    const errors = [a, aaaa].map((r) => (r as PromiseRejectedResult).reason as Error);
    const first = errors[0]!;
    if (!(first instanceof DnsQueryError)) throw first;
    if (errors.every((e) => e instanceof DnsQueryError && (e.kind === 'nxdomain' || e.kind === 'nodata')))
      throw first;
    failures.push(first.message);
  }
  throw new DnsQueryError(failures.join('; '), 'timeout');
}
