import { describe, expect, it } from 'vitest';
import { internetChecksum } from '../src/index.js';

describe('internetChecksum', () => {
  it('matches the RFC 1071 worked example', () => {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, checksum 220d.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(0x220d);
  });
});
