import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { netnsSkipReason, runInNetns, skipWhen, withNetnsEnvironment } from '../src/index.js';

describe('testkit namespaces', skipWhen(netnsSkipReason()), () => {
  it('creates linked namespaces that reach each other and removes them afterwards', async () => {
    let names: string[] = [];
    await withNetnsEnvironment('tk', ['a', 'b'], async ({ ns, link }) => {
      names = Object.values(ns).map((n) => n.name);
      link('a', 'b', {
        addrA: ['10.200.0.1/24', 'fd00:200::1/64'],
        addrB: ['10.200.0.2/24', 'fd00:200::2/64'],
      });
      const out = ns.a!.exec('ping', ['-c', '1', '-W', '2', '10.200.0.2']);
      expect(out).toMatch(/1 received/);
      const out6 = ns.a!.exec('ping', ['-6', '-c', '1', '-W', '2', 'fd00:200::2']);
      expect(out6).toMatch(/1 received/);
    });
    expect(names).toHaveLength(2);
    for (const n of names) expect(existsSync(`/run/netns/${n}`)).toBe(false);
  });

  it('removes namespaces when the body throws', async () => {
    let name = '';
    await expect(
      withNetnsEnvironment('tk', ['a'], async ({ ns }) => {
        name = ns.a!.name;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });

  it('runInNetns switches the thread into a namespace and back', async () => {
    const { readlinkSync } = await import('node:fs');
    const before = readlinkSync('/proc/thread-self/ns/net');
    await withNetnsEnvironment('tk', ['a'], async ({ ns }) => {
      const inside = runInNetns(ns.a!, () => readlinkSync('/proc/thread-self/ns/net'));
      expect(inside).not.toBe(before);
    });
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
  });
});
