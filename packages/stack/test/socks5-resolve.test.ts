import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socks5Outbound } from '../src/outbound-socks5.js';
import { checkSocks5Proxy } from '../src/socks5-check.js';

// The proxy's name goes through the caller's resolveHost (never the OS resolver when one is given), and
// the start-up check can be aborted while a proxy accepts but never answers. Loopback only.

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A TCP listener on 127.0.0.1 that accepts and never says a word; resolves its port. */
async function muteProxy(onAccept: (s: net.Socket) => void = () => {}): Promise<number> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    onAccept(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('SOCKS5 proxy name resolution and check abort', () => {
  it('connects to the address resolveHost gives for a name the OS cannot resolve', async () => {
    const asked: string[] = [];
    let accepted = 0;
    const port = await muteProxy((s) => {
      accepted++;
      s.destroy();
    });
    const resolveHost = (h: string) => {
      asked.push(h);
      return '127.0.0.1';
    };
    const why = await checkSocks5Proxy({ host: 'proxy.invalid', port, resolveHost, timeoutMs: 500 });
    expect(why).toMatch(/did not complete a SOCKS5 handshake/);
    const out = socks5Outbound({ host: 'proxy.invalid', port, resolveHost, timeoutMs: 500 });
    const dest = { address: '192.0.2.1', port: 80 };
    const info = { family: 4 as const, source: { address: '198.18.0.5', port: 40000 }, destination: dest };
    await expect(out.connectTcp(dest, info)).rejects.toThrow();
    expect(asked).toEqual(['proxy.invalid', 'proxy.invalid']);
    expect(accepted).toBe(2);
  });

  it('an aborted check returns at once instead of waiting out its timeout', async () => {
    const controller = new AbortController();
    const port = await muteProxy(() => setImmediate(() => controller.abort()));
    const t0 = Date.now();
    const why = await checkSocks5Proxy({
      host: '127.0.0.1',
      port,
      timeoutMs: 30_000,
      signal: controller.signal,
    });
    const ms = Date.now() - t0;
    expect(why).toBeDefined();
    // Far below the 30 s timeout: the abort, not the timer, ended it.
    expect(ms).toBeLessThan(15_000);
  });
});
