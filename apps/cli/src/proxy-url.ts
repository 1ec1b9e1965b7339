import { ipFamily } from './cidr.js';
import { ConfigError, type ProxyConfig } from './config.js';

// The --proxy URL: socks5://[user:pass@]host:port or direct; its redacted and display forms.

export function parseProxy(src: { value: string; label: string } | undefined): ProxyConfig {
  if (!src || src.value === 'direct') return { kind: 'direct' };
  const bad = (why: string) =>
    new ConfigError(
      `${src.label}: '${redact(src.value)}' ${why} (expected socks5://[user:pass@]host:port or direct)`,
    );
  let url: URL;
  try {
    url = new URL(src.value);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'socks5:') throw bad(`has scheme '${url.protocol.replace(/:$/, '')}'`);
  if (!url.hostname) throw bad('has no host');
  if (!url.port) throw bad('has no port');
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) throw bad('has a path or query');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (
    ipFamily(host) === 0 &&
    !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(host)
  ) {
    throw bad('has an invalid host');
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  if (password !== undefined && username === undefined) throw bad('has a password without a user');
  if (username && (Buffer.byteLength(username) > 255 || Buffer.byteLength(password ?? '') > 255)) {
    throw bad('has a user or password over 255 bytes (the SOCKS5 limit)');
  }
  return {
    kind: 'socks5',
    host,
    port: Number(url.port),
    ...(username !== undefined ? { username, password: password ?? '' } : {}),
  };
}

/**
 * A proxy URL with its password hidden, for logs and errors. Everything between `user:` and the last `@`
 * goes: a password typed with a raw `@` or `/` (not percent-encoded) must not leak in part.
 */
export function redact(url: string): string {
  return url.replace(/^(socks5:\/\/[^:@/]*:).*@/is, '$1***@');
}

/** How a proxy is shown in logs and the plan. */
export function describeProxy(proxy: ProxyConfig): string {
  if (proxy.kind === 'direct') return 'direct';
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  return `socks5://${proxy.username !== undefined ? `${proxy.username}:***@` : ''}${host}:${proxy.port}`;
}
