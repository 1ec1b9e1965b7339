// close() resets every open connection and must keep the packet path running until each reset has gone
// back out of the TUN: the kernel's RST comes back through the device (listener → NAT address), the stack
// translates it and writes it. Here the "TUN" is a fake device and the NATed connection a real loopback
// socket bound to the NAT address and port, exactly what the kernel would see after the rewritten SYN.
import net from 'node:net';
import type { PacketBatch, TunDevice } from '@ztun/packet';
import { waitFor } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { Handler, TcpConnection } from '../src/handler.js';
import { createStack, type Stack } from '../src/stack.js';
import { formatIp, parseIp } from '../src/wire.js';

const CLIENT = '10.9.9.9';
const SERVER = '10.1.1.1';

class FakeDevice implements TunDevice {
  readonly name = 'fake0';
  readonly index = 1;
  readonly mtu = 65535;
  readonly counters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
  writeQueueLength = 0;
  written: Uint8Array[] = [];
  private receiver: ((b: PacketBatch) => void) | undefined;
  onBatch(r: (b: PacketBatch) => void): void {
    this.receiver = r;
  }
  pause(): void {}
  resume(): void {}
  writeBatch(b: PacketBatch): void {
    for (let i = 0; i < b.count; i++)
      this.written.push(b.data.slice(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!));
  }
  write(p: Uint8Array): void {
    this.written.push(p.slice());
  }
  onError(): void {}
  async close(): Promise<void> {}
  deliver(packet: Uint8Array): void {
    this.receiver!({
      count: 1,
      data: packet,
      offsets: Uint32Array.of(0),
      lengths: Uint32Array.of(packet.length),
    });
  }
}

/** An IPv4 TCP segment with valid checksums (RFC 791 header sum, RFC 9293 pseudo-header sum). */
function tcp4(src: string, sport: number, dst: string, dport: number, flags: number, seq = 1000): Uint8Array {
  const p = new Uint8Array(40);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, 40);
  p[8] = 64;
  p[9] = 6;
  p.set(parseIp(src)!, 12);
  p.set(parseIp(dst)!, 16);
  v.setUint16(20, sport);
  v.setUint16(22, dport);
  v.setUint32(24, seq);
  p[32] = 5 << 4;
  p[33] = flags;
  v.setUint16(34, 0xffff);
  const sum = (from: number, to: number, acc: number) => {
    for (let i = from; i < to; i += 2) acc += v.getUint16(i);
    while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
    return acc;
  };
  v.setUint16(10, ~sum(0, 20, 0) & 0xffff);
  v.setUint16(36, ~sum(20, 40, sum(12, 20, 6 + 20)) & 0xffff);
  return p;
}

const segment = (p: Uint8Array) => {
  const v = new DataView(p.buffer, p.byteOffset);
  return {
    src: formatIp(p, 12, 4),
    dst: formatIp(p, 16, 4),
    sport: v.getUint16(20),
    dport: v.getUint16(22),
    flags: p[33]!,
  };
};

const stacks: Stack[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

/** A stack with one NATed connection OPEN: CLIENT:40000 → SERVER:80, held by the handler. */
async function openConnection() {
  const device = new FakeDevice();
  const held: TcpConnection[] = [];
  const handler: Handler = {
    tcp: (conn) => void held.push(conn),
    udp: () => ({ send() {}, close() {} }),
  };
  const stack = createStack({ device, handler, addresses: { ipv4: { tunAddress: '127.0.0.1' } } });
  stacks.push(stack);
  await stack.start();
  device.deliver(tcp4(CLIENT, 40000, SERVER, 80, 0x02));
  const syn = segment(device.written.shift()!);
  expect(syn).toMatchObject({ src: '127.0.0.2', dst: '127.0.0.1', flags: 0x02 });
  // What the kernel does with the rewritten SYN: a connection from the NAT address and port to the listener.
  const client = net.connect({ host: syn.dst, port: syn.dport, localAddress: syn.src, localPort: syn.sport });
  sockets.push(client);
  const clientError = new Promise<string>((resolve) => {
    client.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  await waitFor('the stack accepted the NATed connection', () => held.length === 1, 15_000);
  expect(stack.counters.tcpOpen).toBe(1);
  // The listener's RST as the kernel writes it into the TUN: listener address:port → NAT address:port.
  const listenerRst = tcp4(syn.dst, syn.dport, syn.src, syn.sport, 0x14, 5000);
  return { device, stack, clientError, listenerRst };
}

const isClientRst = (p: Uint8Array) => {
  const s = segment(p);
  return (
    s.src === SERVER && s.sport === 80 && s.dst === CLIENT && s.dport === 40000 && (s.flags & 0x04) !== 0
  );
};

describe('close() and the resets it sends', () => {
  it('keeps translating until the kernel RST of every reset connection is back out of the TUN', async () => {
    const { device, stack, clientError, listenerRst } = await openConnection();
    let settled = false;
    const closing = stack.close().then(() => {
      settled = true;
    });
    expect(await clientError).toBe('ECONNRESET'); // the kernel socket was reset (SO_LINGER 0)
    // A TUN round trip slower than any fixed pause: the RST comes back only now.
    await new Promise((r) => setTimeout(r, 300));
    expect(settled, 'close() waits for the RST').toBe(false);
    device.deliver(listenerRst);
    await closing;
    expect(device.written.filter(isClientRst)).toHaveLength(1);
  });

  it('waits for the device to write out its queue (where it has one)', async () => {
    const { device, stack, clientError, listenerRst } = await openConnection();
    device.writeQueueLength = 3;
    let settled = false;
    const closing = stack.close().then(() => {
      settled = true;
    });
    await clientError;
    device.deliver(listenerRst);
    expect(device.written.filter(isClientRst)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(settled, 'close() waits while packets are queued').toBe(false);
    device.writeQueueLength = 0;
    await closing;
  });

  it('is bounded: close() finishes even when the RST never comes back', { timeout: 30_000 }, async () => {
    const { device, stack, clientError } = await openConnection();
    await stack.close();
    expect(await clientError).toBe('ECONNRESET');
    expect(device.written.filter(isClientRst)).toHaveLength(0);
  });
});
