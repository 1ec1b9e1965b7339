import type { UdpProbeResult } from '@ztun/stack';
import { describe, expect, it } from 'vitest';
import { ProxyUdp } from '../src/proxy-udp.js';

function setup(results: UdpProbeResult[]) {
  const lines: string[] = [];
  let t = 1_000_000;
  let probes = 0;
  const log = {
    error: (m: string) => lines.push(`error ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    info: (m: string) => lines.push(`info ${m}`),
    debug: (m: string) => lines.push(`debug ${m}`),
  };
  const udp = new ProxyUdp({
    probe: async () => results[Math.min(probes++, results.length - 1)]!,
    proxy: 'socks5://p:1080',
    dnsMode: 'auto',
    log,
    now: () => t,
  });
  return {
    udp,
    lines,
    probes: () => probes,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('ProxyUdp (what the proxy does with UDP)', () => {
  it('one line after the start probe: relayed → DNS as UDP; refused → DNS over TCP', async () => {
    const a = setup([{ udp: 'relayed', relay: '10.0.0.1:4000' }]);
    await a.udp.check();
    expect(a.udp.state).toBe('relayed');
    expect(a.lines).toEqual([
      'info proxy socks5://p:1080 relays UDP (UDP ASSOCIATE granted, relay 10.0.0.1:4000); DNS goes as UDP (--dns auto)',
    ]);
    const b = setup([{ udp: 'refused', why: 'dropped the request (Socket closed)' }]);
    await b.udp.check();
    expect(b.udp.state).toBe('refused');
    expect(b.lines).toEqual([
      'info proxy socks5://p:1080 does not relay UDP (UDP ASSOCIATE dropped the request (Socket closed)): other UDP is dropped; DNS goes over TCP through CONNECT (--dns auto)',
    ]);
  });

  it('counts failed associations, warns at most once per interval, and re-probes when UDP was relayed', async () => {
    const s = setup([
      { udp: 'relayed', relay: '10.0.0.1:4000' },
      { udp: 'refused', why: 'refused: CommandNotSupported' },
    ]);
    await s.udp.check();
    s.advance(60_000);
    s.udp.associateFailed(new Error('Socks5 proxy rejected connection - CommandNotSupported'));
    s.udp.associateFailed(new Error('Socks5 proxy rejected connection - CommandNotSupported'));
    await s.udp.check(); // the re-probe the first failure started
    expect(s.udp.associateFailures).toBe(2);
    expect(s.lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn UDP ASSOCIATE through proxy socks5://p:1080 failed: Socks5 proxy rejected connection - CommandNotSupported; that UDP session was dropped',
    ]);
    expect(s.probes()).toBe(2);
    expect(s.udp.state).toBe('refused');
    expect(s.lines.at(-1)).toMatch(/does not relay UDP/);
    // A proxy that is back re-probes, but not more often than every 30 s; an unchanged answer says nothing.
    const before = s.lines.length;
    s.udp.proxyBack();
    await settle();
    expect(s.probes()).toBe(2);
    s.advance(31_000);
    s.udp.proxyBack();
    await settle();
    expect(s.probes()).toBe(3);
    expect(s.lines.length).toBe(before);
  });
});
