import { describe, expect, it } from 'vitest';
import { openUtun } from '../src/index.js';

const onMac = process.platform === 'darwin';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!onMac)
  console.log(`[tun-darwin] real utun tests skipped: they need macOS (this is ${process.platform})`);
else if (!isRoot) console.log('[tun-darwin] real utun tests skipped: creating a utun needs root');

describe('off macOS', () => {
  it.skipIf(onMac)('openUtun refuses clearly instead of crashing', async () => {
    await expect(openUtun()).rejects.toThrow(/utun devices exist only on macOS/);
  });
});

// Real syscalls: macOS and root only (utun's control is CTL_FLAG_PRIVILEGED).
describe.skipIf(!onMac || !isRoot)('real utun on macOS', () => {
  it('creates utunN with an address and MTU, and removes it on close', async () => {
    const dev = await openUtun({ mtu: 1400, addresses: ['198.18.77.1/30', 'fd00:77::1/64'] });
    try {
      expect(dev.name).toMatch(/^utun[0-9]+$/);
      expect(dev.index).toBeGreaterThan(0);
      expect(dev.mtu).toBe(1400);
    } finally {
      await dev.close();
    }
  });
});

describe('openUtun validates its options before touching the system (any OS)', () => {
  it('bad MTU, bad address, bad name', async () => {
    const { UtunInputError, utunUnitFor } = await import('../src/index.js');
    await expect(openUtun({ mtu: 50 })).rejects.toBeInstanceOf(UtunInputError);
    await expect(openUtun({ mtu: 1000, addresses: ['fd00::1/64'] })).rejects.toBeInstanceOf(UtunInputError);
    await expect(openUtun({ addresses: ['10.0.0.1/40'] })).rejects.toBeInstanceOf(UtunInputError);
    await expect(openUtun({ name: 'tun0' })).rejects.toBeInstanceOf(UtunInputError);
    expect(utunUnitFor({})).toBe(0); // first free
    expect(utunUnitFor({ name: 'utun7' })).toBe(8); // sc_unit = N + 1
    expect(utunUnitFor({ unit: 0 })).toBe(1);
    expect(() => utunUnitFor({ name: 'utun7', unit: 3 })).toThrow(UtunInputError);
  });
});
