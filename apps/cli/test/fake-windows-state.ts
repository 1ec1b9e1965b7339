// The fake Windows' IP Helper state as JSON, so a child process running the Windows tunnel can be SIGKILLed and
// its parent can see what it left (what a real Windows keeps across a process's death: routes and addresses).
import type { FakeIpHelper } from '../../../packages/tun-windows/test/fake-iphlpapi.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

interface Saved {
  interfaces: [
    string,
    { index: number; v6: boolean; alias: string; type: number; rows: [number, string][] },
  ][];
  addresses: [string, string][];
  routes: [string, string][];
}

export function saveIp(ip: FakeIpHelper): string {
  const s: Saved = {
    interfaces: [...ip.interfaces].map(([luid, i]) => [
      String(luid),
      {
        index: i.index,
        v6: i.v6,
        alias: i.alias,
        type: i.type,
        rows: [...i.rows].map(([f, r]) => [f, hex(r)]),
      },
    ]),
    addresses: [...ip.addresses].map(([k, r]) => [k, hex(r)]),
    routes: [...ip.routes].map(([k, r]) => [k, hex(r)]),
  };
  return JSON.stringify(s);
}

export function loadIp(ip: FakeIpHelper, json: string): void {
  const s = JSON.parse(json) as Saved;
  ip.interfaces.clear();
  ip.addresses.clear();
  ip.routes.clear();
  for (const [luid, i] of s.interfaces) {
    ip.interfaces.set(BigInt(luid), { ...i, rows: new Map(i.rows.map(([f, r]) => [f, bytes(r)])) });
  }
  for (const [k, r] of s.addresses) ip.addresses.set(k, bytes(r));
  for (const [k, r] of s.routes) ip.routes.set(k, bytes(r));
}
