import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type Cidr, CidrError, formatCidr, networkOf, parseCidr } from './cidr.js';
import { FD_CONFIG_KEYS, type FdConfig, resolveFd } from './config-fd.js';
import { METRICS_CONFIG_KEYS, type MetricsConfig, resolveMetrics } from './config-metrics.js';
import { OPS_CONFIG_KEYS, type OpsConfig, resolveOps } from './config-ops.js';
import { POLICY_CONFIG_KEYS, type PolicyConfig, resolvePolicy } from './config-policy.js';
import { defaultAddresses } from './default-addresses.js';
import { FakeIpRangeError, fakeIpRanges } from './fake-ip-config.js';
import { parseProxy } from './proxy-url.js';

export { describeProxy, redact } from './proxy-url.js';

// One resolved configuration from three layers: defaults ← config file ← command-line flags (flags win;
// a repeatable flag given on the command line replaces the file's list rather than adding to it).

export const DEFAULT_NAME = 'ztun0';
export { DEFAULT_ADDRESS, DEFAULT_ADDRESS6 } from './default-addresses.js';
/** See README "MTU": large packets mean fewer trips through JS per byte; the TUN is a local hop. */
export const DEFAULT_MTU = 65520;
export const DEFAULT_UDP_TIMEOUT_MS = 60_000;
/** The kernel's own TUN queue length (drivers/net/tun.c: dev->tx_queue_len = TUN_READQ_SIZE). */
export const KERNEL_TUN_TXQUEUELEN = 500;

/**
 * The TUN's transmit queue (packets the kernel holds for ztun to read; beyond it they are dropped and
 * counted as the link's tx_dropped): 4096 packets at every MTU. At MTU 1500 that took TCP through the
 * tunnel from ~2,500 drops and ~2,000 retransmits in 4 s to none (README "TUN queue"). At 65520 it was 500
 * (a packet can be 64 KiB), but bursts are counted in packets, not bytes: 9,000 connections closed at once
 * are ~36,000 small packets through the TUN, and 500 dropped most of them (issue 17 item 5). A local TCP
 * flow cannot fill the longer queue with big packets: TCP small queues (tcp_limit_output_bytes) caps what
 * one socket has queued below it.
 */
export function defaultTxQueueLen(_mtu: number): number {
  return 4096;
}
/** Routing table holding the TUN's routes ("zt" = 0x7a74). */
export const DEFAULT_TABLE = 0x7a74;
/** SO_MARK on the tunnel's own outbound sockets; a rule keeps marked traffic out of the TUN. */
export const DEFAULT_FWMARK = 0x7a74;

/** What happens to DNS queries (README "DNS"): `auto` = UDP when the proxy relays UDP, else over TCP. */
export type DnsMode = 'auto' | 'tcp' | 'udp' | 'fake-ip';
export const DNS_MODES: readonly DnsMode[] = ['auto', 'tcp', 'udp', 'fake-ip'];

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export type ProxyConfig =
  | { readonly kind: 'direct' }
  | {
      readonly kind: 'socks5';
      readonly host: string;
      readonly port: number;
      readonly username?: string;
      readonly password?: string;
    };

export interface RunConfig extends PolicyConfig, MetricsConfig, FdConfig, OpsConfig {
  readonly name: string;
  readonly addresses: readonly Cidr[];
  readonly mtu: number;
  /** The TUN's transmit queue length, packets (default: defaultTxQueueLen(mtu)). */
  readonly txQueueLen: number;
  readonly proxy: ProxyConfig;
  readonly routes: readonly Cidr[];
  readonly autoRoute: boolean;
  readonly excludes: readonly Cidr[];
  readonly icmp: 'reply' | 'off';
  readonly udpTimeoutMs: number;
  readonly pcap?: string;
  /** Relay TCP with the zero-copy splice(2) relay where the platform has one (Linux); false: Node streams. */
  readonly splice: boolean;
  /** TUN offload (Linux: IFF_VNET_HDR + TUN_F_CSUM + TSO, or TUN_F_CSUM alone where the kernel refuses TSO);
   *  false: a plain TUN. */
  readonly offload: boolean;
  readonly logLevel: LogLevel;
  /** undefined = default (1 s live line on a TTY, 10 s JSON lines otherwise); 0 = no stats. */
  readonly statsIntervalMs?: number;
  readonly table: number;
  readonly fwmark: number;
  /** Keep an `unreachable` route in ztun's table that outlives the TUN: routed traffic is dropped, not
   *  leaked, while ztun is not running (after a crash, until `ztun cleanup`). */
  readonly killSwitch: boolean;
  /** How UDP DNS queries (port 53) travel: as UDP, as DNS over TCP through the proxy's CONNECT, or auto. */
  readonly dns: DnsMode;
  /** --dns fake-ip: the ranges names get addresses from (one per family; empty in other modes). */
  readonly fakeIpRanges: readonly Cidr[];
  /** --dns fake-ip: answer queries sent to any resolver, not only to the fake-IP DNS address. */
  readonly dnsHijack: boolean;
  /** With --auto-route and no --address: the default IPv6 address too (false: --no-ipv6). */
  readonly ipv6: boolean;
}

/** TUN checksum offload unless turned off (measured faster: README "Benchmark"). */
export const DEFAULT_OFFLOAD = true;

/** A bad flag, value or config file: its message is the one line printed to the user. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The keys shared by flags and config files (kebab-case as on the command line). */
export const CONFIG_KEYS = [
  'name',
  'address',
  'mtu',
  'txqueuelen',
  'proxy',
  'route',
  'auto-route',
  'exclude',
  'icmp',
  'udp-timeout',
  'pcap',
  'splice',
  'offload',
  'log-level',
  'stats-interval',
  'table',
  'fwmark',
  'kill-switch',
  ...POLICY_CONFIG_KEYS,
  ...METRICS_CONFIG_KEYS,
  ...FD_CONFIG_KEYS,
  ...OPS_CONFIG_KEYS,
  'dns',
  'fake-ip-range',
  'dns-hijack',
  'ipv6',
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];
export type RawConfig = Partial<Record<ConfigKey, unknown>>;

const camel = (key: string) => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Reads a YAML or JSON config file into raw keys; kebab-case and camelCase keys are both accepted. */
export function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`--config ${path}: cannot read the file (${code})`);
  }
  let doc: unknown;
  try {
    // JSON is YAML 1.2, so one parser serves both.
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new ConfigError(`--config ${path}: not valid YAML or JSON: ${first}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`--config ${path}: the top level must be a mapping of option names to values`);
  }
  return rawConfigOf(doc as Record<string, unknown>, `--config ${path}`);
}

/**
 * The raw keys of a mapping in the config file's form (kebab-case or camelCase keys), for readConfigFile and
 * createTunnel. `label` starts its error lines. Throws ConfigError on an unknown or repeated key.
 */
export function rawConfigOf(doc: Readonly<Record<string, unknown>>, label: string): RawConfig {
  const byCamel = new Map(CONFIG_KEYS.map((k) => [camel(k), k]));
  const out: RawConfig = {};
  for (const [key, value] of Object.entries(doc)) {
    if (value === undefined) continue;
    const canonical = (CONFIG_KEYS as readonly string[]).includes(key)
      ? (key as ConfigKey)
      : byCamel.get(key);
    if (!canonical) {
      throw new ConfigError(`${label}: unknown key '${key}' (known: ${CONFIG_KEYS.join(', ')})`);
    }
    if (canonical in out) throw new ConfigError(`${label}: key '${key}' is given twice`);
    out[canonical] = value;
  }
  return out;
}

interface Source {
  /** How to name a key from this source in an error, e.g. `--mtu` or `ztun.yaml: mtu`. */
  label(key: ConfigKey): string;
  values: RawConfig;
}

/** Merges defaults ← file ← flags and validates every value. Throws ConfigError with one clear line. */
export function resolveConfig(flags: RawConfig, file?: { path: string; values: RawConfig }): RunConfig {
  const sources: Source[] = [{ label: (k) => `--${k}`, values: flags }];
  if (file) sources.push({ label: (k) => `${file.path}: ${k}`, values: file.values });
  const pick = (key: ConfigKey): { value: unknown; label: string } | undefined => {
    for (const s of sources) {
      if (s.values[key] !== undefined) return { value: s.values[key], label: s.label(key) };
    }
    return undefined;
  };

  const str = (key: ConfigKey): { value: string; label: string } | undefined => {
    const p = pick(key);
    if (!p) return undefined;
    if (typeof p.value === 'number') return { value: String(p.value), label: p.label };
    if (typeof p.value !== 'string') throw new ConfigError(`${p.label}: expected a string`);
    return { value: p.value, label: p.label };
  };
  const list = (key: ConfigKey): { values: string[]; label: string } | undefined => {
    const p = pick(key);
    if (!p) return undefined;
    const arr = Array.isArray(p.value) ? p.value : [p.value];
    for (const v of arr) {
      if (typeof v !== 'string') throw new ConfigError(`${p.label}: expected a string or a list of strings`);
    }
    return { values: arr as string[], label: p.label };
  };
  const cidrs = (key: ConfigKey, kind: 'address' | 'prefix'): Cidr[] | undefined => {
    const l = list(key);
    if (!l) return undefined;
    return l.values.map((v) => {
      try {
        const c = parseCidr(v, { bareIsHost: kind === 'prefix' });
        return kind === 'prefix' ? networkOf(c) : c;
      } catch (err) {
        if (err instanceof CidrError) throw new ConfigError(`${l.label}: ${err.message}`);
        throw err;
      }
    });
  };
  const int = (key: ConfigKey, min: number, max: number): number | undefined => {
    const s = str(key);
    if (!s) return undefined;
    const text = s.value.trim();
    const n = /^0x[0-9a-f]+$/i.test(text)
      ? Number.parseInt(text, 16)
      : /^\d+$/.test(text)
        ? Number(text)
        : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(`${s.label}: '${s.value}' is not an integer in ${min}..${max}`);
    }
    return n;
  };
  const duration = (key: ConfigKey, allowZero: boolean): number | undefined => {
    const s = str(key);
    if (!s) return undefined;
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.value.trim());
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m?.[2] ?? 's']!;
    const ms = m ? Math.round(Number(m[1]) * unit) : NaN;
    if (!Number.isFinite(ms) || (!allowZero && ms <= 0) || ms > 2 ** 31 - 1) {
      throw new ConfigError(
        `${s.label}: '${s.value}' is not a duration (e.g. 30, 30s, 500ms, 5m${allowZero ? ', 0 to disable' : ''})`,
      );
    }
    return ms;
  };
  const bool = (key: ConfigKey): boolean | undefined => {
    const p = pick(key);
    if (!p) return undefined;
    if (typeof p.value === 'boolean') return p.value;
    if (p.value === 'true' || p.value === 'false') return p.value === 'true';
    throw new ConfigError(`${p.label}: expected true or false`);
  };
  const oneOf = <T extends string>(key: ConfigKey, allowed: readonly T[]): T | undefined => {
    const s = str(key);
    if (!s) return undefined;
    if (!(allowed as readonly string[]).includes(s.value)) {
      throw new ConfigError(`${s.label}: '${s.value}' is not one of ${allowed.join(', ')}`);
    }
    return s.value as T;
  };

  const nameSrc = str('name');
  const name = nameSrc?.value ?? DEFAULT_NAME;
  if (
    Buffer.byteLength(name) < 1 ||
    Buffer.byteLength(name) > 15 ||
    /[\s/:]/.test(name) ||
    name === '.' ||
    name === '..'
  ) {
    throw new ConfigError(
      `${nameSrc?.label ?? '--name'}: '${name}' is not a valid interface name (1-15 bytes, no spaces, '/' or ':')`,
    );
  }

  const autoRoute = bool('auto-route') ?? false;
  const ipv6 = bool('ipv6') ?? true;
  const addresses = cidrs('address', 'address') ?? defaultAddresses(autoRoute, ipv6);
  if (!ipv6 && addresses.some((a) => a.family === 6))
    throw new ConfigError(`${pick('ipv6')!.label}: false, but an --address is IPv6`);
  if (addresses.length === 0)
    throw new ConfigError(`${pick('address')!.label}: at least one address is needed`);
  const seenFamilies = new Set<number>();
  for (const a of addresses) {
    if (a.prefixLength === (a.family === 4 ? 32 : 128)) {
      // The stack NATs connections onto a second address of the TUN's prefix, so a host prefix is too small.
      throw new ConfigError(
        `${pick('address')!.label}: '${formatCidr(a)}' leaves no room for the tunnel's NAT address; use a prefix of /${a.family === 4 ? 30 : 126} or shorter`,
      );
    }
    seenFamilies.add(a.family);
  }

  const hasV6 = seenFamilies.has(6);
  const mtu = int('mtu', hasV6 ? 1280 : 576, 65535) ?? DEFAULT_MTU;
  const txQueueLen = int('txqueuelen', 1, 100_000) ?? defaultTxQueueLen(mtu);
  const proxy = parseProxy(str('proxy'));
  const routes = cidrs('route', 'prefix') ?? [];
  const excludes = cidrs('exclude', 'prefix') ?? [];
  for (const r of routes) {
    if (!seenFamilies.has(r.family)) {
      throw new ConfigError(
        `${pick('route')!.label}: '${formatCidr(r)}' is IPv${r.family} but the tunnel has no IPv${r.family} --address`,
      );
    }
  }
  const statsIntervalMs = duration('stats-interval', true);
  const dns = oneOf('dns', DNS_MODES) ?? 'auto';
  for (const key of ['fake-ip-range', 'dns-hijack'] as const) {
    const p = pick(key);
    if (p && dns !== 'fake-ip' && p.value !== false)
      throw new ConfigError(`${p.label}: only with --dns fake-ip`);
  }
  let fakeIps: Cidr[] = [];
  if (dns === 'fake-ip') {
    try {
      fakeIps = fakeIpRanges(addresses, cidrs('fake-ip-range', 'prefix'));
    } catch (err) {
      if (!(err instanceof FakeIpRangeError)) throw err;
      throw new ConfigError(`${pick('fake-ip-range')?.label ?? '--dns fake-ip'}: ${err.message}`);
    }
    if (fakeIps.length === 0)
      throw new ConfigError(
        '--dns fake-ip: the TUN prefixes are too small for a fake-IP range; give --fake-ip-range',
      );
  }
  const pcap = str('pcap');
  if (pcap && pcap.value.length === 0) throw new ConfigError(`${pcap.label}: empty file name`);

  return {
    name,
    addresses,
    mtu,
    txQueueLen,
    proxy,
    routes,
    autoRoute,
    excludes,
    icmp: oneOf('icmp', ['reply', 'off'] as const) ?? 'reply',
    udpTimeoutMs: duration('udp-timeout', false) ?? DEFAULT_UDP_TIMEOUT_MS,
    ...(pcap ? { pcap: pcap.value } : {}),
    splice: bool('splice') ?? true,
    offload: bool('offload') ?? DEFAULT_OFFLOAD,
    logLevel: oneOf('log-level', LOG_LEVELS) ?? 'info',
    ...(statsIntervalMs !== undefined ? { statsIntervalMs } : {}),
    table: int('table', 1, 0xffffffff) ?? DEFAULT_TABLE,
    fwmark: int('fwmark', 1, 0xffffffff) ?? DEFAULT_FWMARK,
    killSwitch: bool('kill-switch') ?? false,
    ...resolvePolicy(pick, (m) => new ConfigError(m)),
    ...resolveMetrics(pick, (m) => new ConfigError(m)),
    ...resolveFd(pick, (m) => new ConfigError(m)),
    ...resolveOps(
      pick,
      (k) => duration(k, false),
      (m) => new ConfigError(m),
    ),
    dns,
    fakeIpRanges: fakeIps,
    dnsHijack: bool('dns-hijack') ?? false,
    ipv6,
  };
}
