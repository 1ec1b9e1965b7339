import { describe, expect, it } from 'vitest';
import { CLOSING, EMBRYONIC, FREE, OPEN, TcpNatTable } from '../src/nat.js';
import { PacketContext } from '../src/packet-context.js';

// The TCP session state machine as the NAT table's methods (the packet path and the listener only call them).

const SYN = 0x02;
const ACK = 0x10;
const FIN_ACK = 0x11;
const RST = 0x04;

function flow(t: TcpNatTable, sport: number): PacketContext {
  const c = new PacketContext();
  c.family = {
    v: 4,
    alen: 4,
    tun: Uint8Array.of(198, 18, 0, 1),
    nat: Uint8Array.of(198, 18, 0, 2),
    tunText: '198.18.0.1',
    natText: '198.18.0.2',
    table: t,
    listenPort: 4000,
  };
  c.data = Uint8Array.of(198, 18, 0, 1, 10, 1, 0, 5); // source 198.18.0.1, destination 10.1.0.5
  c.srcOff = 0;
  c.dstOff = 4;
  c.sport = sport;
  c.dport = 80;
  return c;
}

function socket() {
  const calls: string[] = [];
  return { calls, destroy: () => calls.push('destroy'), resetAndDestroy: () => calls.push('reset') };
}

describe('TcpNatTable session states', () => {
  it('SYN opens an embryonic entry; the listener accepts it once; its socket closing makes it linger', () => {
    const t = new TcpNatTable({ addressLength: 4, maxSessions: 10 });
    const c = flow(t, 1111);
    expect(t.clientSession(c, SYN)).toBe(-1);
    const port = t.open(c, 0);
    expect(t.state[port]).toBe(EMBRYONIC);
    expect(t.clientSession(c, ACK)).toBe(port);
    const sock = socket();
    expect(t.accept(port + 1, sock)).toBe(false); // no embryonic entry there
    expect(t.accept(port, sock)).toBe(true);
    expect(t.state[port]).toBe(OPEN);
    expect(t.accept(port, socket())).toBe(false); // accepted already
    expect(t.socketClosed(port, socket(), 5)).toBe(false); // not its socket
    expect(t.socketClosed(port, sock, 5)).toBe(true);
    expect(t.state[port]).toBe(CLOSING);
    // A SYN of the same flow while it lingers starts a new connection on a new entry.
    expect(t.clientSession(c, SYN)).toBe(-1);
    expect(t.clientSession(c, ACK)).toBe(port);
    const again = t.open(c, 6);
    expect(again).not.toBe(port);
    expect(t.state[port]).toBe(FREE);
    expect(t.count).toBe(1);
  });

  it('records FINs and RSTs both ways; fromListener refuses a port with no session', () => {
    const t = new TcpNatTable({ addressLength: 4, maxSessions: 10 });
    const port = t.open(flow(t, 2222), 0);
    expect(t.fromListener(port + 1, ACK, 1)).toBe(false);
    t.fromClient(port, FIN_ACK, 2);
    expect(t.fromListener(port, FIN_ACK, 3)).toBe(true);
    expect(t.flags[port]! & 3).toBe(3);
    expect(t.rstSeen(port)).toBe(false);
    t.fromClient(port, RST, 4);
    expect(t.rstSeen(port)).toBe(true);
    expect(t.lastSeen[port]).toBe(4);
  });

  it('sweep: embryonic entries expire after 20 s, idle open ones are reset, lingering ones go after 1 s or 30 s', () => {
    const t = new TcpNatTable({ addressLength: 4, maxSessions: 10 });
    const embryonic = t.open(flow(t, 1), 0);
    const open = t.open(flow(t, 2), 0);
    const openSock = socket();
    t.accept(open, openSock);
    const done = t.open(flow(t, 3), 0); // FIN both ways: lingers 1 s
    const doneSock = socket();
    t.accept(done, doneSock);
    t.fromClient(done, FIN_ACK, 0);
    t.fromListener(done, FIN_ACK, 0);
    t.socketClosed(done, doneSock, 0);
    const half = t.open(flow(t, 4), 0); // no FIN / RST: lingers 30 s
    const halfSock = socket();
    t.accept(half, halfSock);
    t.socketClosed(half, halfSock, 0);

    t.sweep(1_500, 10_000);
    expect([t.state[embryonic], t.state[open], t.state[done], t.state[half]]).toEqual([
      EMBRYONIC,
      OPEN,
      FREE,
      CLOSING,
    ]);
    t.sweep(5_500, 10_000);
    expect(t.state[half]).toBe(CLOSING); // a retransmitted FIN backing off still finds it
    expect(openSock.calls).toEqual([]);
    t.sweep(20_500, 10_000);
    expect(t.state[embryonic]).toBe(FREE);
    expect(openSock.calls).toEqual(['reset']); // idle beyond 10 s
    t.sweep(30_500, 10_000);
    expect(t.state[half]).toBe(FREE);
    expect(t.resetOpen()).toEqual([open]);
    t.releaseAll();
    expect(openSock.calls).toEqual(['reset', 'reset', 'reset', 'destroy']);
    expect(t.count).toBe(0);
  });
});
