/**
 * The koffi prototypes of the Windows bindings parse (koffi parses types without loading a DLL, so a typo in a
 * type name fails here on any OS) and have the parameter/return sizes of wintun.h / netioapi.h on 64-bit.
 */
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { IPHLPAPI_PROTOTYPES } from '../src/iphlpapi.windows.js';
import {
  KERNEL32_PROTOTYPES,
  WINTUN_LOGGER_PROTOTYPE,
  WINTUN_PROTOTYPES,
  wintunLoggerProto,
} from '../src/wintun.windows.js';

// api/exports.def (reference §3.1): 14 exports.
const WINTUN_EXPORTS = [
  'WintunCreateAdapter',
  'WintunOpenAdapter',
  'WintunCloseAdapter',
  'WintunDeleteDriver',
  'WintunGetAdapterLUID',
  'WintunGetRunningDriverVersion',
  'WintunSetLogger',
  'WintunStartSession',
  'WintunEndSession',
  'WintunGetReadWaitEvent',
  'WintunReceivePacket',
  'WintunReleaseReceivePacket',
  'WintunAllocateSendPacket',
  'WintunSendPacket',
];

function params(proto: string): string[] {
  const inner = proto.slice(proto.indexOf('(') + 1, proto.lastIndexOf(')')).trim();
  return inner === '' ? [] : inner.split(',').map((p) => p.trim());
}

describe('Windows binding prototypes', () => {
  it('bind every wintun.dll export except WintunDeleteDriver, under its exported name', () => {
    expect(Object.keys(WINTUN_PROTOTYPES).sort()).toEqual(
      WINTUN_EXPORTS.filter((n) => n !== 'WintunDeleteDriver').sort(),
    );
    for (const [name, proto] of Object.entries(WINTUN_PROTOTYPES)) {
      expect(proto).toContain(` ${name}(`);
      expect(proto).toContain('__stdcall');
    }
  });

  it('all parse with koffi (types known, calling convention accepted)', () => {
    wintunLoggerProto(koffi);
    for (const proto of [
      ...Object.values(WINTUN_PROTOTYPES),
      ...Object.values(KERNEL32_PROTOTYPES),
      ...Object.values(IPHLPAPI_PROTOTYPES),
    ]) {
      expect(() => koffi.proto(proto), proto).not.toThrow();
    }
  });

  it('strings are UTF-16 (LPCWSTR) and handles pointer-sized', () => {
    expect(params(WINTUN_PROTOTYPES.WintunCreateAdapter).slice(0, 2)).toEqual([
      'str16 Name',
      'str16 TunnelType',
    ]);
    expect(params(WINTUN_PROTOTYPES.WintunOpenAdapter)).toEqual(['str16 Name']);
    expect(WINTUN_LOGGER_PROTOTYPE).toContain('str16 Message');
    expect(koffi.sizeof('void *')).toBe(8);
  });

  it('logger callback: (WINTUN_LOGGER_LEVEL, DWORD64 timestamp, LPCWSTR) with 4/8-byte integers', () => {
    expect(params(WINTUN_LOGGER_PROTOTYPE)).toEqual(['int Level', 'uint64_t Timestamp', 'str16 Message']);
    expect(koffi.sizeof('int')).toBe(4);
    expect(koffi.sizeof('uint64_t')).toBe(8);
  });

  it('DWORD parameters are 32-bit (never C long, which is 8 bytes on Linux but 4 on Windows)', () => {
    for (const proto of [...Object.values(WINTUN_PROTOTYPES), ...Object.values(IPHLPAPI_PROTOTYPES)]) {
      expect(proto).not.toMatch(/\blong\b/);
    }
    expect(params(WINTUN_PROTOTYPES.WintunStartSession)[1]).toBe('uint32_t Capacity');
    expect(params(WINTUN_PROTOTYPES.WintunAllocateSendPacket)[1]).toBe('uint32_t PacketSize');
  });
});
