import type { UdpProbeResult } from '@ztun/stack';
import { type ConnectFailures, failureReporter } from './connect-failures.js';
import type { Logger } from './log.js';

// Whether the SOCKS5 proxy relays UDP (issue 15 item 1). Known from one UDP ASSOCIATE probe at start, asked
// again when the proxy is back after being unreachable (a restart may have changed it) and when an
// association fails where the probe said UDP is relayed. With `--dns auto`, DNS goes as UDP only while the
// proxy relays it, else over TCP. Failed associations are counted and warned about like failed connects.

export type UdpState = 'relayed' | 'refused' | 'unknown';

export interface ProxyUdpOptions {
  /** One probe of the proxy (probeSocks5Udp with the run's settings). */
  probe(signal?: AbortSignal): Promise<UdpProbeResult>;
  /** How the proxy is named in log lines. */
  proxy: string;
  /** What `--dns` does with each answer, for the log line. */
  dnsMode: 'auto' | 'tcp' | 'udp' | 'fake-ip';
  log: Logger;
  /** At most one warning about failed associations per this long (default 10 s). */
  quietMs?: number;
  /** Re-probes no more often than this (default 30 s). */
  reprobeMinMs?: number;
  now?: () => number;
}

export class ProxyUdp {
  private current: UdpState = 'unknown';
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private probing: Promise<void> | undefined;
  private said = false;
  private readonly failures: ConnectFailures;

  constructor(private readonly o: ProxyUdpOptions) {
    this.failures = failureReporter(
      o.log,
      {
        text: (_, err) => `UDP ASSOCIATE through proxy ${o.proxy} failed: ${err.message}`,
        consequence: 'that UDP session was dropped',
      },
      o.quietMs,
      o.now,
    );
  }

  /** What the last probe found. */
  get state(): UdpState {
    return this.current;
  }

  /** Failed UDP associations at run time. */
  get associateFailures(): number {
    return this.failures.count;
  }

  /** Probes now; logs one line the first time and whenever the answer changes. */
  check(signal?: AbortSignal): Promise<void> {
    this.probing ??= this.run(signal).finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  /** A UDP ASSOCIATE failed at run time. */
  associateFailed(err: Error): void {
    this.failures.failed('', err);
    if (this.current === 'relayed') this.reprobe();
  }

  /** The proxy accepts connections again after it could not be reached. */
  proxyBack(): void {
    this.reprobe();
  }

  private reprobe(): void {
    const now = (this.o.now ?? Date.now)();
    if (now - this.lastProbeAt < (this.o.reprobeMinMs ?? 30_000)) return;
    void this.check();
  }

  private async run(signal?: AbortSignal): Promise<void> {
    this.lastProbeAt = (this.o.now ?? Date.now)();
    const r = await this.o.probe(signal);
    if (signal?.aborted) return;
    const before = this.current;
    // A probe that could not ask keeps what an earlier one found.
    if (r.udp !== 'unknown' || !this.said) this.current = r.udp;
    if (this.said && this.current === before) return;
    this.said = true;
    this.o.log.info(lineFor(this.o.proxy, r, this.o.dnsMode));
  }
}

function lineFor(proxy: string, r: UdpProbeResult, dns: ProxyUdpOptions['dnsMode']): string {
  const dnsWord = (relayed: boolean) => {
    if (dns === 'udp') return relayed ? 'DNS goes as UDP' : 'DNS queries are lost too (--dns udp)';
    if (dns === 'tcp') return 'DNS goes over TCP (--dns tcp)';
    if (dns === 'fake-ip') return 'names are answered locally, other DNS goes over TCP';
    return relayed ? 'DNS goes as UDP (--dns auto)' : 'DNS goes over TCP through CONNECT (--dns auto)';
  };
  switch (r.udp) {
    case 'relayed':
      return `proxy ${proxy} relays UDP (UDP ASSOCIATE granted, relay ${r.relay}); ${dnsWord(true)}`;
    case 'refused':
      return `proxy ${proxy} does not relay UDP (UDP ASSOCIATE ${r.why}): other UDP is dropped; ${dnsWord(false)}`;
    default:
      return `proxy ${proxy}: could not ask whether it relays UDP (${r.why}; asked again once it is back); ${dnsWord(false)}`;
  }
}
