/** MIB_IF_ROW2 (GetIfTable2) decoding, and encoding for fakes and tests. Pure; any OS. Layout in layout.ts. */
import { TunError } from './errors.js';
import { MIB_IF_ROW2 as L } from './layout.js';

/** IF_OPER_STATUS (ifdef.h / Microsoft Learn "MIB_IF_ROW2"): IfOperStatusUp = 1 … LowerLayerDown = 7. */
export const IfOperStatus = { Up: 1, Down: 2, Testing: 3, Unknown: 4, Dormant: 5, NotPresent: 6 } as const;
/** IFTYPE values ztun looks at (ipifcons.h): loopback is never a physical egress; Wintun reports PROP_VIRTUAL. */
export const IfType = { Other: 1, EthernetCsmacd: 6, SoftwareLoopback: 24, PropVirtual: 53, Ieee80211: 71 };

export interface DecodedIfRow {
  luid: bigint;
  index: number;
  /** The interface's alias ("Ethernet", "Wi-Fi", the Wintun adapter's name). */
  alias: string;
  description: string;
  mtu: number;
  type: number;
  operStatus: number;
}

function readWide(v: DataView, at: number): string {
  let s = '';
  for (let i = 0; i < L.stringChars; i++) {
    const c = v.getUint16(at + i * 2, true);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function writeWide(v: DataView, at: number, s: string): void {
  if (s.length >= L.stringChars) {
    throw new TunError('INVALID_ARGUMENT', 'MIB_IF_ROW2', `"${s.slice(0, 20)}…" is too long`);
  }
  for (let i = 0; i < L.stringChars; i++) v.setUint16(at + i * 2, i < s.length ? s.charCodeAt(i) : 0, true);
}

export function decodeIfRow(row: Uint8Array): DecodedIfRow {
  if (row.byteLength < L.size) {
    throw new TunError('INVALID_ARGUMENT', 'MIB_IF_ROW2', `row is ${row.byteLength} bytes, needs ${L.size}`);
  }
  const v = new DataView(row.buffer, row.byteOffset, L.size);
  return {
    luid: v.getBigUint64(L.InterfaceLuid, true),
    index: v.getUint32(L.InterfaceIndex, true),
    alias: readWide(v, L.Alias),
    description: readWide(v, L.Description),
    mtu: v.getUint32(L.Mtu, true),
    type: v.getUint32(L.Type, true),
    operStatus: v.getUint32(L.OperStatus, true),
  };
}

/** A MIB_IF_ROW2 with these fields set and everything else zero (fakes and tests). */
export function encodeIfRow(f: DecodedIfRow): Uint8Array {
  const row = new Uint8Array(L.size);
  const v = new DataView(row.buffer);
  v.setBigUint64(L.InterfaceLuid, f.luid, true);
  v.setUint32(L.InterfaceIndex, f.index, true);
  writeWide(v, L.Alias, f.alias);
  writeWide(v, L.Description, f.description);
  v.setUint32(L.Mtu, f.mtu, true);
  v.setUint32(L.Type, f.type, true);
  v.setUint32(L.OperStatus, f.operStatus, true);
  return row;
}
