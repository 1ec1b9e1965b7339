/**
 * A fake iphlpapi behind IpHelperApi that models what the routing code depends on: Initialize* defaults
 * (Microsoft Learn), duplicate/absent statuses, unknown interfaces, read-back filling InterfaceIndex/Origin,
 * and the SitePrefixLength quirk (Get returns a value Set rejects with ERROR_INVALID_PARAMETER).
 * It assumes — as the real API is documented to — that Metric and Protocol read back as written.
 */
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  ERROR_INVALID_PARAMETER,
  ERROR_NOT_FOUND,
  ERROR_OBJECT_ALREADY_EXISTS,
} from '../src/constants.js';
import { encodeIfRow, IfOperStatus, IfType } from '../src/if-row.js';
import type { IpHelperApi } from '../src/iphlpapi-api.js';
import {
  MIB_IPFORWARD_ROW2 as F,
  MIB_IPINTERFACE_ROW as I,
  IP_ADDRESS_PREFIX,
  MIB_UNICASTIPADDRESS_ROW as U,
} from '../src/layout.js';

const dv = (row: Uint8Array) => new DataView(row.buffer, row.byteOffset, row.byteLength);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface FakeInterface {
  index: number;
  v6: boolean;
  alias: string;
  type: number;
  rows: Map<number, Uint8Array>; // family → MIB_IPINTERFACE_ROW
}

export class FakeIpHelper implements IpHelperApi {
  readonly interfaces = new Map<bigint, FakeInterface>();
  readonly addresses = new Map<string, Uint8Array>();
  readonly routes = new Map<string, Uint8Array>();
  calls: string[] = [];

  addInterface(
    luid: bigint,
    index: number,
    v6 = true,
    alias = `if${index}`,
    type: number = IfType.EthernetCsmacd,
  ): void {
    const rows = new Map<number, Uint8Array>();
    for (const fam of v6 ? [AF_INET, AF_INET6] : [AF_INET]) {
      const row = new Uint8Array(I.size);
      const v = dv(row);
      v.setUint16(I.Family, fam, true);
      v.setBigUint64(I.InterfaceLuid, luid, true);
      v.setUint32(I.InterfaceIndex, index, true);
      v.setUint8(I.UseAutomaticMetric, 1);
      v.setUint32(I.Metric, 25, true);
      v.setUint32(I.NlMtu, 1500, true);
      // The quirk: values SetIpInterfaceEntry refuses.
      v.setUint32(I.SitePrefixLength, fam === AF_INET ? 64 : 0xffffffff, true);
      rows.set(fam, row);
    }
    this.interfaces.set(luid, { index, v6, alias, type, rows });
  }

  private luidOf(row: Uint8Array, at: number): bigint {
    return dv(row).getBigUint64(at, true);
  }

  getUnicastIpAddressTable(family: number): { status: number; rows: Uint8Array[] } {
    const rows = [...this.addresses.values()]
      .filter((r) => family === AF_UNSPEC || dv(r).getUint16(U.Address, true) === family)
      .map((r) => {
        const copy = r.slice();
        const iface = this.interfaces.get(this.luidOf(copy, U.InterfaceLuid));
        dv(copy).setUint32(U.InterfaceIndex, iface?.index ?? 0, true); // read-back fills it
        return copy;
      });
    return { status: 0, rows };
  }

  getIfTable2(): { status: number; rows: Uint8Array[] } {
    const rows = [...this.interfaces].map(([luid, i]) =>
      encodeIfRow({
        luid,
        index: i.index,
        alias: i.alias,
        description: `fake ${i.alias}`,
        mtu: dv(i.rows.get(AF_INET)!).getUint32(I.NlMtu, true),
        type: i.type,
        operStatus: IfOperStatus.Up,
      }),
    );
    return { status: 0, rows };
  }

  convertInterfaceIndexToLuid(index: number): { status: number; luid: bigint } {
    for (const [luid, i] of this.interfaces) if (i.index === index) return { status: 0, luid };
    return { status: ERROR_NOT_FOUND, luid: 0n };
  }

  initializeUnicastIpAddressEntry(row: Uint8Array): void {
    row.fill(0);
    const v = dv(row);
    v.setUint32(U.ValidLifetime, 0xffffffff, true);
    v.setUint32(U.PreferredLifetime, 0xffffffff, true);
    v.setUint8(U.OnLinkPrefixLength, 0xff); // "illegal" until set
  }

  private addressKey(row: Uint8Array): { key: string; status: number } {
    const v = dv(row);
    const luid = this.luidOf(row, U.InterfaceLuid);
    if (!this.interfaces.has(luid)) return { key: '', status: ERROR_NOT_FOUND };
    const fam = v.getUint16(U.Address, true);
    const max = fam === AF_INET ? 32 : fam === AF_INET6 ? 128 : -1;
    if (max < 0 || v.getUint8(U.OnLinkPrefixLength) > max)
      return { key: '', status: ERROR_INVALID_PARAMETER };
    const addr = row.subarray(fam === AF_INET ? 4 : 8, fam === AF_INET ? 8 : 24);
    return { key: `${luid}/${fam}/${hex(addr)}`, status: 0 };
  }

  createUnicastIpAddressEntry(row: Uint8Array): number {
    this.calls.push('CreateUnicastIpAddressEntry');
    const { key, status } = this.addressKey(row);
    if (status) return status;
    if (this.addresses.has(key)) return ERROR_OBJECT_ALREADY_EXISTS;
    this.addresses.set(key, row.slice());
    return 0;
  }

  deleteUnicastIpAddressEntry(row: Uint8Array): number {
    this.calls.push('DeleteUnicastIpAddressEntry');
    const { key, status } = this.addressKey(row);
    if (status) return status;
    return this.addresses.delete(key) ? 0 : ERROR_NOT_FOUND;
  }

  initializeIpForwardEntry(row: Uint8Array): void {
    row.fill(0);
    const v = dv(row);
    v.setUint32(F.ValidLifetime, 0xffffffff, true);
    v.setUint32(F.PreferredLifetime, 0xffffffff, true);
    for (const o of [F.Loopback, F.AutoconfigureAddress, F.Publish, F.Immortal]) v.setUint8(o, 1);
    v.setUint8(F.SitePrefixLength, 0xff);
    v.setUint32(F.Metric, 0xffffffff, true);
    v.setUint32(F.Protocol, 0xffffffff, true);
  }

  private routeKey(row: Uint8Array): { key: string; status: number; luid: bigint } {
    const v = dv(row);
    let luid = this.luidOf(row, F.InterfaceLuid);
    if (luid === 0n) {
      const idx = v.getUint32(F.InterfaceIndex, true);
      for (const [l, i] of this.interfaces) if (i.index === idx) luid = l;
    }
    if (!this.interfaces.has(luid)) return { key: '', status: ERROR_NOT_FOUND, luid };
    const fam = v.getUint16(F.DestinationPrefix, true);
    const hopFam = v.getUint16(F.NextHop, true);
    const plen = v.getUint8(F.DestinationPrefix + IP_ADDRESS_PREFIX.prefixLength);
    const max = fam === AF_INET ? 32 : fam === AF_INET6 ? 128 : -1;
    if (max < 0 || plen > max || (hopFam !== fam && hopFam !== AF_UNSPEC)) {
      return { key: '', status: ERROR_INVALID_PARAMETER, luid };
    }
    const span = (at: number) =>
      row.subarray(at + (fam === AF_INET ? 4 : 8), at + (fam === AF_INET ? 8 : 24));
    return {
      key: `${luid}/${fam}/${hex(span(F.DestinationPrefix))}/${plen}/${hex(span(F.NextHop))}`,
      status: 0,
      luid,
    };
  }

  createIpForwardEntry2(row: Uint8Array): number {
    this.calls.push('CreateIpForwardEntry2');
    const { key, status, luid } = this.routeKey(row);
    if (status) return status;
    const v = dv(row);
    if (v.getUint32(F.Metric, true) === 0xffffffff || v.getUint32(F.Protocol, true) === 0xffffffff) {
      return ERROR_INVALID_PARAMETER;
    }
    if (this.routes.has(key)) return ERROR_OBJECT_ALREADY_EXISTS;
    const stored = row.slice();
    dv(stored).setUint32(F.InterfaceIndex, this.interfaces.get(luid)!.index, true); // read-back fills it
    dv(stored).setUint32(F.Origin, 0, true); // NlroManual
    this.routes.set(key, stored);
    return 0;
  }

  /** Puts a route in the table as if something else had added it. */
  seedRoute(row: Uint8Array): void {
    const { key, status } = this.routeKey(row);
    if (status) throw new Error(`bad seed route ${status}`);
    this.routes.set(key, row.slice());
  }

  deleteIpForwardEntry2(row: Uint8Array): number {
    this.calls.push('DeleteIpForwardEntry2');
    const { key, status } = this.routeKey(row);
    if (status) return status;
    return this.routes.delete(key) ? 0 : ERROR_NOT_FOUND;
  }

  getIpForwardTable2(family: number): { status: number; rows: Uint8Array[] } {
    const rows = [...this.routes.values()]
      .filter((r) => family === AF_UNSPEC || dv(r).getUint16(F.DestinationPrefix, true) === family)
      .map((r) => r.slice());
    return { status: 0, rows };
  }

  getIpInterfaceEntry(row: Uint8Array): number {
    const v = dv(row);
    const iface = this.interfaces.get(this.luidOf(row, I.InterfaceLuid));
    const stored = iface?.rows.get(v.getUint16(I.Family, true));
    if (!stored) return ERROR_NOT_FOUND;
    row.set(stored);
    return 0;
  }

  setIpInterfaceEntry(row: Uint8Array): number {
    this.calls.push('SetIpInterfaceEntry');
    const v = dv(row);
    const fam = v.getUint16(I.Family, true);
    const iface = this.interfaces.get(this.luidOf(row, I.InterfaceLuid));
    const stored = iface?.rows.get(fam);
    if (!stored) return ERROR_NOT_FOUND;
    const site = v.getUint32(I.SitePrefixLength, true);
    if ((fam === AF_INET && site > 32) || (fam === AF_INET6 && site > 128)) return ERROR_INVALID_PARAMETER;
    const mtu = v.getUint32(I.NlMtu, true);
    if (mtu < (fam === AF_INET ? 576 : 1280)) return ERROR_INVALID_PARAMETER;
    stored.set(row);
    return 0;
  }

  convertInterfaceLuidToIndex(luid: bigint): { status: number; index: number } {
    const i = this.interfaces.get(luid);
    return i ? { status: 0, index: i.index } : { status: ERROR_NOT_FOUND, index: 0 };
  }
}
