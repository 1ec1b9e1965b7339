import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ConnectionInfo } from '../counting.js';

// The metrics endpoint: GET /metrics (Prometheus text format 0.0.4, from the registry) and GET /connections
// (JSON; at most `limit` entries, default 1000, never more than MAX_CONNECTIONS). Nothing else; read-only.

export const DEFAULT_CONNECTIONS_LIMIT = 1000;
export const MAX_CONNECTIONS = 10_000;

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  connections(): ConnectionInfo[];
}

export interface MetricsServer {
  /** `http://host:port` as bound (the real port when 0 was asked). */
  readonly url: string;
  close(): Promise<void>;
}

function connectionsBody(all: ConnectionInfo[], query: URLSearchParams): string {
  const asked = Number(query.get('limit') ?? DEFAULT_CONNECTIONS_LIMIT);
  const limit =
    Number.isInteger(asked) && asked >= 0 ? Math.min(asked, MAX_CONNECTIONS) : DEFAULT_CONNECTIONS_LIMIT;
  return `${JSON.stringify({ total: all.length, shown: Math.min(limit, all.length), connections: all.slice(0, limit) })}\n`;
}

/** Listens on host:port; rejects with the listen error (EADDRINUSE, EADDRNOTAVAIL…). */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metrics.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/metrics') {
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
      return;
    }
    if (url.pathname === '/connections') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(connectionsBody(o.connections(), url.searchParams));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /connections\n');
  });
  // Scrapers keep connections alive; close() must not wait for them.
  server.keepAliveTimeout = 5000;
  server.listen(o.port, o.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  server.unref();
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
