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
