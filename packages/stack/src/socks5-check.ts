import type net from 'node:net';
import { SocksClient } from 'socks';
import { connectPinned } from './outbound-direct.js';
import { pinningOf, resolveProxyHost, type Socks5OutboundOptions, socksProxyOf } from './outbound-socks5.js';
import { portableSockets } from './sockets.js';

// Start-up checks of a SOCKS5 server, each over one short-lived connection: does it take our credentials,
// and does it relay UDP (RFC 1928 §7 UDP ASSOCIATE)? Many proxies only CONNECT — OpenSSH's `ssh -D` drops
// the connection, Tor's SocksPort answers "command not supported" — and UDP through them is lost silently.

export type Socks5CheckOptions = Socks5OutboundOptions & { signal?: AbortSignal };

/** Opens the pinned connection to the proxy, closed when `signal` aborts; or says why it cannot. */
async function reach(options: Socks5CheckOptions, timeout: number): Promise<net.Socket | string> {
  let existing: net.Socket;
  try {
    const address = await resolveProxyHost(options);
    existing = await connectPinned(
      { address, port: options.port },
      pinningOf(options),
      timeout,
      options.sockets ?? portableSockets,
    );
  } catch (err) {
    return `is not reachable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  // Aborting closes the socket at once, so nothing of the check outlives its caller's interest.
  const abort = () => existing.destroy();
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  existing.once('close', () => options.signal?.removeEventListener('abort', abort));
  // The socket is half-open capable: a proxy's FIN must end the handshake, not wait for the timeout.
  existing.once('end', () => existing.destroy());
  return existing;
}

/** Counts the proxy's replies: once the handshake's are in, the request went out (and any failure after it
 *  is the proxy's answer to the request). */
function handshakeWatch(existing: net.Socket, options: Socks5CheckOptions): () => boolean {
  // The method selection, and the RFC 1929 status with credentials.
  const needed = options.username !== undefined ? 2 : 1;
  let replies = 0;
  existing.on('data', () => {
    replies++;
  });
  return () => replies >= needed;
}

/**
 * Checks that a SOCKS5 server answers and accepts these credentials, without reaching anything through it:
 * after the method negotiation and authentication it asks for a CONNECT to 0.0.0.0:0, which no server can
 * carry out, so a refusal at that point means everything before it worked. Resolves undefined when the
 * proxy is usable, else one line saying what is wrong (never containing the password).
 */
export async function checkSocks5Proxy(options: Socks5CheckOptions): Promise<string | undefined> {
  const timeout = options.timeoutMs ?? 3000;
  const existing = await reach(options, timeout);
  if (typeof existing === 'string') return existing;
  const requested = handshakeWatch(existing, options);
  try {
    const r = await SocksClient.createConnection({
      proxy: socksProxyOf(options),
      command: 'connect',
      destination: { host: '0.0.0.0', port: 0 },
      timeout,
      existing_socket: existing,
    });
    r.socket.destroy(); // a server that claims to have connected there has still accepted us
    return undefined;
  } catch (err) {
    const m = (err as Error).message;
    if (m.includes('Authentication failed')) return 'rejected the username/password';
    if (m.includes('no accepted authentication type')) {
      return options.username !== undefined
        ? 'accepts no username/password authentication'
        : 'requires authentication (give socks5://user:pass@host:port)';
    }
    // Refused, or dropped (OpenSSH's ssh -D closes when it cannot connect there): we were accepted.
    if (m.includes('rejected connection') || (requested() && !options.signal?.aborted)) return undefined;
    return `did not complete a SOCKS5 handshake (${m})`;
  } finally {
    existing.destroy();
  }
}

export type UdpProbeResult =
  /** The proxy granted a UDP ASSOCIATE; `relay` is the address:port it named for datagrams. */
  | { readonly udp: 'relayed'; readonly relay: string }
  /** It refused or dropped the request: UDP through it is lost. `why` is one phrase. */
  | { readonly udp: 'refused'; readonly why: string }
  /** It could not be asked (not reachable, bad credentials…): nothing is known. */
  | { readonly udp: 'unknown'; readonly why: string };

/**
 * Asks the proxy for one UDP ASSOCIATE and closes it at once (the association lives as long as its TCP
 * connection, RFC 1928 §7), so the answer says whether UDP can go through it.
 */
export async function probeSocks5Udp(options: Socks5CheckOptions): Promise<UdpProbeResult> {
  const timeout = options.timeoutMs ?? 3000;
  const existing = await reach(options, timeout);
  if (typeof existing === 'string') return { udp: 'unknown', why: existing };
  const requested = handshakeWatch(existing, options);
  try {
    const info = await new Promise<Awaited<ReturnType<typeof SocksClient.createConnection>>>(
      (resolve, reject) => {
        const client = new SocksClient({
          proxy: socksProxyOf(options),
          command: 'associate',
          destination: { host: '0.0.0.0', port: 0 },
          timeout,
          existing_socket: existing,
        });
        // The request went out after the handshake: a failure from here on is the proxy's answer to it.
        client.once('established', resolve);
        client.once('error', reject);
        client.connect(existing);
      },
    );
    const r = info.remoteHost;
    return { udp: 'relayed', relay: r ? `${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}` : '?' };
  } catch (err) {
    const m = (err as Error).message;
    if (options.signal?.aborted) return { udp: 'unknown', why: 'aborted' };
    if (m.includes('Authentication failed') || m.includes('no accepted authentication type'))
      return { udp: 'unknown', why: m };
    if (m.includes('rejected connection')) {
      // e.g. "Socks5 proxy rejected connection - CommandNotSupported" (RFC 1928 §6 REP 0x07)
      return { udp: 'refused', why: m.replace(/^.*rejected connection - /, 'refused: ') };
    }
    if (requested()) return { udp: 'refused', why: `dropped the request (${m})` };
    return { udp: 'unknown', why: m };
  } finally {
    existing.destroy();
  }
}
