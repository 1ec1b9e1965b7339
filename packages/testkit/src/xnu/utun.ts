// The utun stand-in: a datagram pair (Node has no socketpair(2), so two UDP sockets on 127.0.0.1
// connected to each other — real datagrams through the kernel, boundaries kept) between the product's
// device (the UtunFd seam of @ztun/tun-darwin) and the simulated kernel. The kernel end speaks utun's
// ABI: every datagram starts with the 4-byte protocol family in network byte order, AF_INET 2 or
// AF_INET6 30 (xnu bsd/net/if_utun.c:2060-2064); the model counts frames whose header is wrong.

import dgram from 'node:dgram';

const EAGAIN = 35; // darwin's numbers: the device compares against them
const AF_INET = 2;
const AF_INET6 = 30;

/** The shape of @ztun/tun-darwin's UtunFd (structural: testkit does not depend on the product). */
export interface UtunFdLike {
  bind(onReady: (readable: boolean, writable: boolean) => void): void;
  read(buffer: Uint8Array, offset: number, length: number): number;
  write(buffer: Uint8Array, offset: number, length: number): number;
  setInterest(readable: boolean, writable: boolean): void;
  close(): Promise<void>;
}

export interface UtunKernelSide {
  /** IP packets the device wrote (header checked and stripped). */
  onPacket(listener: (packet: Uint8Array) => void): void;
  /** Sends an IP packet to the device, framed with its 4-byte family header. */
  inject(packet: Uint8Array): void;
  /** Datagrams from the device whose header was missing, not 2/30, or disagreed with the IP version. */
  readonly badFrames: number;
}

async function boundSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

/** Opens the pair. `onClose` runs once when the device side closes (the utun socket's last close). */
export async function utunDatagramPair(
  onClose: () => void,
): Promise<{ fd: UtunFdLike; kernel: UtunKernelSide }> {
  const dev = await boundSocket();
  const ker = await boundSocket();
  dev.connect(ker.address().port, '127.0.0.1');
  ker.connect(dev.address().port, '127.0.0.1');
  await Promise.all([dev, ker].map((s) => new Promise((r) => s.once('connect', r))));

  const inbox: Uint8Array[] = [];
  let handler: (r: boolean, w: boolean) => void = () => {};
  let wantRead = false;
  let scheduled = false;
  let closed = false;
  const notify = () => {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!closed && wantRead && inbox.length > 0) handler(true, false);
    });
  };
  dev.on('message', (m) => {
    inbox.push(new Uint8Array(m));
    notify();
  });

  const listeners: ((p: Uint8Array) => void)[] = [];
  let badFrames = 0;
  ker.on('message', (m) => {
    const family = m.length >= 5 ? m.readUInt32BE(0) : -1;
    const version = m.length >= 5 ? m[4]! >> 4 : -1;
    if (!((family === AF_INET && version === 4) || (family === AF_INET6 && version === 6))) {
      badFrames++;
      return;
    }
    const packet = new Uint8Array(m.subarray(4));
    for (const l of listeners) l(packet);
  });

  const fd: UtunFdLike = {
    bind(onReady) {
      handler = onReady;
    },
    read(buffer, offset, length) {
      const next = inbox.shift();
      if (!next) return -EAGAIN;
      const n = Math.min(next.length, length); // a datagram larger than the buffer is truncated, as read(2) does
      buffer.set(next.subarray(0, n), offset);
      return n;
    },
    write(buffer, offset, length) {
      if (closed) return -9; // EBADF
      dev.send(buffer.slice(offset, offset + length));
      return length;
    },
    setInterest(readable, writable) {
      wantRead = readable;
      if (readable) notify();
      if (writable) setImmediate(() => !closed && handler(false, true));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([dev, ker].map((s) => new Promise<void>((r) => s.close(() => r()))));
      onClose();
    },
  };
  const kernel: UtunKernelSide = {
    onPacket: (l) => listeners.push(l),
    inject(packet) {
      if (closed) return;
      const frame = new Uint8Array(4 + packet.length);
      frame[3] = packet[0]! >> 4 === 6 ? AF_INET6 : AF_INET;
      frame.set(packet, 4);
      ker.send(frame);
    },
    get badFrames() {
      return badFrames;
    },
  };
  return { fd, kernel };
}
