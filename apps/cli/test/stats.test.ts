import { describe, expect, it } from 'vitest';
import { linuxPreflight } from '../src/platform/linux.js';
import {
  formatBits,
  formatBytes,
  ratesBetween,
  type StatsSnapshot,
  statsJson,
  statusLine,
} from '../src/stats.js';

const snap = (over: Partial<StatsSnapshot>): StatsSnapshot => ({
  uptimeMs: 0,
  tcpOpen: 0,
  udpOpen: 0,
  bytesOut: 0,
  bytesIn: 0,
  packetsOut: 0,
  packetsIn: 0,
  drops: 0,
  connectFailures: 0,
  udpAssociateFailures: 0,
  ...over,
});

describe('stats', () => {
  it('computes rates between snapshots', () => {
    const a = snap({ uptimeMs: 1000, bytesOut: 1000, bytesIn: 0 });
    const b = snap({ uptimeMs: 3000, bytesOut: 251_000, bytesIn: 2_500_000_000 });
    expect(ratesBetween(a, b)).toEqual({ outBitsPerSec: 1_000_000, inBitsPerSec: 10_000_000_000 });
    expect(ratesBetween(undefined, b)).toEqual({ outBitsPerSec: 0, inBitsPerSec: 0 });
  });
  it('formats units', () => {
    expect(formatBits(0)).toBe('0 bit/s');
    expect(formatBits(1_500_000)).toBe('1.50 Mbit/s');
    expect(formatBits(27_300_000_000)).toBe('27.3 Gbit/s');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
  });
  it("the TUN's kernel queue drops show in the status line and the JSON line when known", () => {
    const cur = snap({ drops: 7, deviceQueueDrops: 5, dropsByReason: { deviceQueue: 5, badPacket: 2 } });
    expect(statusLine(cur, { outBitsPerSec: 0, inBitsPerSec: 0 })).toMatch(
      /\| drops 7 \| .* \| tun queue drops 5$/,
    );
    expect(JSON.parse(statsJson(cur, { outBitsPerSec: 0, inBitsPerSec: 0 }))).toMatchObject({
      drops: 7,
      deviceQueueDrops: 5,
      dropsByReason: { deviceQueue: 5 },
    });
    expect(statusLine(snap({}), { outBitsPerSec: 0, inBitsPerSec: 0 })).not.toContain('tun queue');
  });

  it('status line and JSON line carry sessions, throughput each way, drops and failed connects', () => {
    const cur = snap({
      uptimeMs: 5000,
      tcpOpen: 3,
      udpOpen: 2,
      bytesOut: 2048,
      bytesIn: 4096,
      drops: 7,
      connectFailures: 4,
    });
    const rates = { outBitsPerSec: 8000, inBitsPerSec: 16000 };
    expect(statusLine(cur, rates)).toBe(
      'tcp 3 udp 2 | ↑ 8.00 kbit/s (2.0 KiB) ↓ 16.0 kbit/s (4.0 KiB) | drops 7 | failed connects 4',
    );
    const j = JSON.parse(statsJson(cur, rates, new Date(0)));
    expect(j).toMatchObject({
      time: '1970-01-01T00:00:00.000Z',
      tcpOpen: 3,
      udpOpen: 2,
      drops: 7,
      connectFailures: 4,
    });
    expect(j.outBitsPerSec).toBe(8000);
  });
});

describe('linuxPreflight', () => {
  it('refuses without CAP_NET_ADMIN and without /dev/net/tun', () => {
    expect(linuxPreflight('Name:\tnode\nCapEff:\t0000000000000000\n', true)).toMatch(/needs root/);
    expect(linuxPreflight('CapEff:\t000001ffffffffff\n', false)).toMatch(/\/dev\/net\/tun is missing/);
    expect(linuxPreflight('CapEff:\t0000000000001000\n', true)).toBeUndefined();
  });
});
