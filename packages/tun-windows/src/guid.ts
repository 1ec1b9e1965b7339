import { createHash } from 'node:crypto';
import { TunError } from './errors.js';

/** "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}" (braces optional) → 16 bytes in Windows GUID memory layout. */
export function parseGuid(text: string): Uint8Array {
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(text);
  if (!m) throw new TunError('INVALID_ARGUMENT', 'guid', `${JSON.stringify(text)} is not a GUID`);
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint32(0, Number.parseInt(m[1]!, 16), true); // Data1..Data3 are little-endian in memory
  v.setUint16(4, Number.parseInt(m[2]!, 16), true);
  v.setUint16(6, Number.parseInt(m[3]!, 16), true);
  const tail = m[4]! + m[5]!; // Data4 is a byte array
  for (let i = 0; i < 8; i++) out[8 + i] = Number.parseInt(tail.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function formatGuid(bytes: Uint8Array): string {
  const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const d4 = Array.from(bytes.subarray(8, 16), (b) => hex(b, 2)).join('');
  return `{${hex(v.getUint32(0, true), 8)}-${hex(v.getUint16(4, true), 4)}-${hex(v.getUint16(6, true), 4)}-${d4.slice(0, 4)}-${d4.slice(4)}}`;
}

/**
 * A stable GUID per adapter name, so re-creating "ztun0" gives Windows the same adapter identity (and network
 * profile) each time, like sing-tun's md5("wintun"+name). Version 3 (name-based, MD5) with RFC 4122 variant.
 */
export function guidFromName(name: string): Uint8Array {
  const h = createHash('md5').update(`ztun:${name}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x30;
  h[8] = (h[8]! & 0x3f) | 0x80;
  // Big-endian text order → GUID memory layout.
  const hex = h.toString('hex');
  return parseGuid(
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  );
}
