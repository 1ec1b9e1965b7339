// Shared by the splice relay tests: loopback TCP rigs peerA ⇄ [a … relay … b] ⇄ peerB, where a and b are
// Node sockets to hand to the relay (a: accepted from peerA, b: connected to a server that accepted peerB).
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import net from 'node:net';

export interface Rig {
  peerA: net.Socket;
  peerB: net.Socket;
  a: net.Socket;
  b: net.Socket;
}

interface Acceptor {
  server: net.Server;
  accepted: net.Socket[];
  waiting: ((s: net.Socket) => void)[];
}

function listen(): Promise<Acceptor> {
  const acc: Acceptor = { server: undefined as unknown as net.Server, accepted: [], waiting: [] };
  acc.server = net.createServer({ allowHalfOpen: true }, (s) => {
    const w = acc.waiting.shift();
    if (w) w(s);
    else acc.accepted.push(s);
  });
  return new Promise((resolve) => acc.server.listen(0, '127.0.0.1', () => resolve(acc)));
}

function nextAccepted(acc: Acceptor): Promise<net.Socket> {
  const s = acc.accepted.shift();
  if (s) return Promise.resolve(s);
  return new Promise((resolve) => acc.waiting.push(resolve));
}

function connectTo(server: net.Server): Promise<net.Socket> {
  const port = (server.address() as net.AddressInfo).port;
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Two listeners; `rig()` makes one connected quadruple, `close()` stops the listeners. */
export async function rigFactory(): Promise<{ rig(): Promise<Rig>; close(): Promise<void> }> {
  const accA = await listen();
  const accB = await listen();
  return {
    async rig() {
      const accepted = nextAccepted(accA);
      const peerA = await connectTo(accA.server);
      const a = await accepted;
      const acceptedPeerB = nextAccepted(accB);
      const b = await connectTo(accB.server);
      const peerB = await acceptedPeerB;
      for (const s of [peerA, peerB, a, b]) s.on('error', () => {});
      return { peerA, peerB, a, b };
    },
    async close() {
      await new Promise((r) => accA.server.close(r));
      await new Promise((r) => accB.server.close(r));
    },
  };
}

/** Everything `s` receives until its end, hashed; with the byte count. */
export function digestUntilEnd(s: net.Socket): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    s.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    s.once('error', reject);
  });
}

/** Writes `total` pseudo-random bytes with backpressure, then ends if asked; resolves with their sha256. */
export async function send(s: net.Socket, total: number, end: boolean): Promise<string> {
  const block = randomBytes(1 << 20);
  const hash = createHash('sha256');
  let sent = 0;
  let i = 0;
  while (sent < total) {
    if (s.destroyed) throw new Error('destroyed while sending');
    const off = (i++ * 4099) % 4096;
    const chunk = block.subarray(off, Math.min(block.length, off + (total - sent)));
    hash.update(chunk);
    sent += chunk.length;
    if (!s.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onClose = () => reject(new Error('closed while sending'));
        s.once('close', onClose);
        s.once('drain', () => {
          s.off('close', onClose);
          resolve();
        });
      });
    }
  }
  if (end) s.end();
  return hash.digest('hex');
}

export function closed(s: net.Socket): Promise<void> {
  return s.destroyed && s.closed ? Promise.resolve() : new Promise((r) => s.once('close', () => r()));
}

/** The error code `s` ends with; 'end' for an end from its peer; undefined for a close without error. */
export function errorOf(s: net.Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    s.once('end', () => resolve('end'));
    s.once('close', () => resolve(undefined));
  });
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
