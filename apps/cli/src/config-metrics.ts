import { ipFamily } from './cidr.js';

// `--metrics HOST:PORT` (issue 16 item 3): where the Prometheus endpoint listens. Off by default; a
// non-loopback address is refused unless `--metrics-allow-remote` says so, because /connections shows
// who talks to whom.

export const METRICS_CONFIG_KEYS = ['metrics', 'metrics-allow-remote'] as const;
type MetricsKey = (typeof METRICS_CONFIG_KEYS)[number];

export interface MetricsListen {
  /** Host as given (an IP literal or a name; IPv6 without brackets). */
  readonly host: string;
  /** 0: any free port (the log line names it). */
  readonly port: number;
}

export interface MetricsConfig {
  readonly metrics?: MetricsListen;
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return ipFamily(v4) === 4 && v4.startsWith('127.');
}

type Pick = (key: MetricsKey) => { value: unknown; label: string } | undefined;

export function resolveMetrics(pick: Pick, bad: (message: string) => Error): MetricsConfig {
  const p = pick('metrics');
  const allow = pick('metrics-allow-remote');
  let allowRemote = false;
  if (allow) {
    if (allow.value !== true && allow.value !== false && allow.value !== 'true' && allow.value !== 'false')
      throw bad(`${allow.label}: expected true or false`);
    allowRemote = allow.value === true || allow.value === 'true';
  }
  if (!p) return {};
  const text = typeof p.value === 'string' ? p.value.trim() : '';
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3]);
  const hostOk =
    ipFamily(host) !== 0 ||
    (m?.[2] !== undefined && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(host));
  if (!m || !hostOk || port > 65535 || (m[1] !== undefined && ipFamily(host) !== 6))
    throw bad(`${p.label}: '${String(p.value)}' is not HOST:PORT (e.g. 127.0.0.1:9100, [::1]:9100)`);
  if (!allowRemote && !isLoopbackHost(host))
    throw bad(
      `${p.label}: ${host} is not a loopback address; /metrics and /connections would be reachable from the network (add --metrics-allow-remote if that is intended)`,
    );
  return { metrics: { host, port } };
}

/** `http://host:port` of a listen address (brackets for IPv6). */
export const metricsUrl = (m: MetricsListen): string =>
  `http://${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}`;
