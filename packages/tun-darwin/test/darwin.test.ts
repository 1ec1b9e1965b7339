import { skipUnless, skipWhen } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { openUtun } from '../src/index.js';

const onMac = process.platform === 'darwin';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const realUtunSkip = !onMac
  ? `real utun tests need macOS (this is ${process.platform})`
  : !isRoot
    ? 'real utun tests need root (utun control is CTL_FLAG_PRIVILEGED)'
    : undefined;

describe('off macOS', () => {
  it('openUtun refuses clearly instead of crashing', skipUnless(!onMac, 'macOS has real utun'), async () => {
    await expect(openUtun()).rejects.toThrow(/utun devices exist only on macOS/);
  });
});

// Real syscalls: macOS and root only (utun's control is CTL_FLAG_PRIVILEGED).
describe('real utun on macOS', skipWhen(realUtunSkip), () => {
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
