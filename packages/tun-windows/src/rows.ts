/** Encoders and decoders of iphlpapi rows over plain bytes (layouts in layout.ts). Pure; any OS. */
import type { IpAddress, IpFamily, IpPrefix } from './address.js';
import { AF_INET, AF_INET6, AF_UNSPEC, INFINITE_LIFETIME, NlDadState } from './constants.js';
import { TunError } from './errors.js';
import {
  IP_ADDRESS_PREFIX,
  MIB_IPFORWARD_ROW2,
  MIB_IPINTERFACE_ROW,
  MIB_UNICASTIPADDRESS_ROW,
  SOCKADDR_INET,
} from './layout.js';

function viewOf(row: Uint8Array, size: number, what: string): DataView {
  if (row.byteLength < size) {
    throw new TunError('INVALID_ARGUMENT', what, `row buffer is ${row.byteLength} bytes, needs ${size}`);
  }
  return new DataView(row.buffer, row.byteOffset, size);
}

export function windowsFamily(family: IpFamily): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** Writes a SOCKADDR_INET at `offset`: the address with port 0, or all zeros (AF_UNSPEC) for null. */
export function writeSockaddrInet(view: DataView, offset: number, addr: IpAddress | null): void {
  new Uint8Array(view.buffer, view.byteOffset + offset, SOCKADDR_INET.size).fill(0);
  if (!addr) return;
  view.setUint16(offset + SOCKADDR_INET.family, windowsFamily(addr.family), true);
  const at = addr.family === 4 ? SOCKADDR_INET.v4Addr : SOCKADDR_INET.v6Addr;
  new Uint8Array(view.buffer, view.byteOffset + offset + at, addr.bytes.length).set(addr.bytes);
}

/** Reads a SOCKADDR_INET; null for AF_UNSPEC. Unknown families are a typed error. */
export function readSockaddrInet(view: DataView, offset: number): IpAddress | null {
  const family = view.getUint16(offset + SOCKADDR_INET.family, true);
  const copy = (at: number, n: number) =>
    new Uint8Array(view.buffer, view.byteOffset + offset + at, n).slice();
  if (family === AF_INET) return { family: 4, bytes: copy(SOCKADDR_INET.v4Addr, 4) };
  if (family === AF_INET6) return { family: 6, bytes: copy(SOCKADDR_INET.v6Addr, 16) };
  if (family === AF_UNSPEC) return null;
  throw new TunError('INVALID_ARGUMENT', 'SOCKADDR_INET', `unknown address family ${family}`);
}

export interface UnicastAddressFields {
  luid: bigint;
  address: IpAddress;
  prefixLength: number;
}

/**
 * Fills the fields ztun owns in a MIB_UNICASTIPADDRESS_ROW (on Windows the row first gets
 * InitializeUnicastIpAddressEntry's defaults): Address, InterfaceLuid, OnLinkPrefixLength, DadState=Preferred
 * (no duplicate-address detection delay), infinite lifetimes. Same fields as wireguard-windows winipcfg.
 */
export function encodeUnicastAddressRow(row: Uint8Array, f: UnicastAddressFields): Uint8Array {
  const L = MIB_UNICASTIPADDRESS_ROW;
  const v = viewOf(row, L.size, 'MIB_UNICASTIPADDRESS_ROW');
  checkPrefixLength(f.address.family, f.prefixLength);
  row.fill(0, L.Address, L.InterfaceLuid); // SOCKADDR_INET and the padding after it
  writeSockaddrInet(v, L.Address, f.address);
  v.setBigUint64(L.InterfaceLuid, f.luid, true);
  v.setUint8(L.OnLinkPrefixLength, f.prefixLength);
  v.setUint32(L.DadState, NlDadState.Preferred, true);
  v.setUint32(L.ValidLifetime, INFINITE_LIFETIME, true);
  v.setUint32(L.PreferredLifetime, INFINITE_LIFETIME, true);
  return row;
}

export interface DecodedUnicastAddress extends UnicastAddressFields {
  interfaceIndex: number;
}

export function decodeUnicastAddressRow(row: Uint8Array): DecodedUnicastAddress {
  const L = MIB_UNICASTIPADDRESS_ROW;
  const v = viewOf(row, L.size, 'MIB_UNICASTIPADDRESS_ROW');
  const address = readSockaddrInet(v, L.Address);
  if (!address) throw new TunError('INVALID_ARGUMENT', 'MIB_UNICASTIPADDRESS_ROW', 'address is AF_UNSPEC');
  return {
    luid: v.getBigUint64(L.InterfaceLuid, true),
    interfaceIndex: v.getUint32(L.InterfaceIndex, true),
    address,
    prefixLength: v.getUint8(L.OnLinkPrefixLength),
  };
}

export interface ForwardRowFields {
  luid: bigint;
  destination: IpPrefix;
  /** null: on-link (the unspecified address of the destination's family). */
  nextHop: IpAddress | null;
  metric: number;
  protocol: number;
}

function checkPrefixLength(family: IpFamily, len: number): void {
  if (!Number.isInteger(len) || len < 0 || len > (family === 4 ? 32 : 128)) {
    throw new TunError('INVALID_ARGUMENT', 'prefix length', `${len} is out of range for IPv${family}`);
  }
}

/**
 * Fills the fields ztun owns in a MIB_IPFORWARD_ROW2 (on Windows the row first gets InitializeIpForwardEntry's
 * defaults): InterfaceLuid, DestinationPrefix, NextHop, Metric, Protocol.
 */
export function encodeForwardRow(row: Uint8Array, f: ForwardRowFields): Uint8Array {
  const L = MIB_IPFORWARD_ROW2;
  const v = viewOf(row, L.size, 'MIB_IPFORWARD_ROW2');
  checkPrefixLength(f.destination.family, f.destination.prefixLength);
  if (f.nextHop && f.nextHop.family !== f.destination.family) {
    throw new TunError(
      'INVALID_ARGUMENT',
      'route',
      'next hop and destination are different address families',
    );
  }
  if (!Number.isInteger(f.metric) || f.metric < 0 || f.metric > 0xffffffff) {
    throw new TunError('INVALID_ARGUMENT', 'route', `metric ${f.metric} is not a 32-bit unsigned integer`);
  }
  v.setBigUint64(L.InterfaceLuid, f.luid, true);
  row.fill(0, L.DestinationPrefix, L.DestinationPrefix + IP_ADDRESS_PREFIX.size); // incl. padding
  writeSockaddrInet(v, L.DestinationPrefix + IP_ADDRESS_PREFIX.prefix, f.destination);
  v.setUint8(L.DestinationPrefix + IP_ADDRESS_PREFIX.prefixLength, f.destination.prefixLength);
  const onLink: IpAddress = {
    family: f.destination.family,
    bytes: new Uint8Array(f.destination.bytes.length),
  };
  writeSockaddrInet(v, L.NextHop, f.nextHop ?? onLink);
  v.setUint32(L.Metric, f.metric, true);
  v.setUint32(L.Protocol, f.protocol, true);
  return row;
}

export interface DecodedForwardRow {
  luid: bigint;
  interfaceIndex: number;
  destination: IpPrefix;
  /** null when on-link (unspecified or AF_UNSPEC next hop). */
  nextHop: IpAddress | null;
  metric: number;
  protocol: number;
  origin: number;
}

export function decodeForwardRow(row: Uint8Array): DecodedForwardRow {
  const L = MIB_IPFORWARD_ROW2;
  const v = viewOf(row, L.size, 'MIB_IPFORWARD_ROW2');
  const dest = readSockaddrInet(v, L.DestinationPrefix + IP_ADDRESS_PREFIX.prefix);
  if (!dest) throw new TunError('INVALID_ARGUMENT', 'MIB_IPFORWARD_ROW2', 'destination is AF_UNSPEC');
  const hop = readSockaddrInet(v, L.NextHop);
  return {
    luid: v.getBigUint64(L.InterfaceLuid, true),
    interfaceIndex: v.getUint32(L.InterfaceIndex, true),
    destination: { ...dest, prefixLength: v.getUint8(L.DestinationPrefix + IP_ADDRESS_PREFIX.prefixLength) },
    nextHop: hop?.bytes.some((b) => b !== 0) ? hop : null,
    metric: v.getUint32(L.Metric, true),
    protocol: v.getUint32(L.Protocol, true),
    origin: v.getUint32(L.Origin, true),
  };
}

/** Prepares a MIB_IPINTERFACE_ROW key (Family + InterfaceLuid) for GetIpInterfaceEntry. */
export function encodeInterfaceKey(row: Uint8Array, family: IpFamily, luid: bigint): Uint8Array {
  const L = MIB_IPINTERFACE_ROW;
  const v = viewOf(row, L.size, 'MIB_IPINTERFACE_ROW');
  v.setUint16(L.Family, windowsFamily(family), true);
  v.setBigUint64(L.InterfaceLuid, luid, true);
  return row;
}

export interface InterfaceSettings {
  /** NlMtu. */
  mtu?: number;
  /** Interface metric; setting it turns UseAutomaticMetric off. */
  metric?: number;
}

/**
 * Clamps SitePrefixLength as SetIpInterfaceEntry requires (GetIpInterfaceEntry may return values it then
 * rejects with ERROR_INVALID_PARAMETER): IPv4 > 32 → 0, IPv6 > 128 → 128 (wireguard-windows winipcfg
 * types.go:660-681). Returns the clamped value.
 */
export function clampSitePrefixLength(row: Uint8Array): number {
  const L = MIB_IPINTERFACE_ROW;
  const v = viewOf(row, L.size, 'MIB_IPINTERFACE_ROW');
  const family = v.getUint16(L.Family, true);
  let site = v.getUint32(L.SitePrefixLength, true);
  if (family === AF_INET && site > 32) site = 0;
  else if (family === AF_INET6 && site > 128) site = 128;
  v.setUint32(L.SitePrefixLength, site, true);
  return site;
}

/** Applies MTU / metric to a row read by GetIpInterfaceEntry, clamping SitePrefixLength first. */
export function applyInterfaceSettings(row: Uint8Array, s: InterfaceSettings): Uint8Array {
  const L = MIB_IPINTERFACE_ROW;
  const v = viewOf(row, L.size, 'MIB_IPINTERFACE_ROW');
  clampSitePrefixLength(row);
  if (s.mtu !== undefined) {
    const min = v.getUint16(L.Family, true) === AF_INET6 ? 1280 : 576;
    if (!Number.isInteger(s.mtu) || s.mtu < min || s.mtu > 0xffff) {
      throw new TunError('INVALID_ARGUMENT', 'mtu', `${s.mtu} is outside ${min}..65535`);
    }
    v.setUint32(L.NlMtu, s.mtu, true);
  }
  if (s.metric !== undefined) {
    if (!Number.isInteger(s.metric) || s.metric < 0 || s.metric > 0xffffffff) {
      throw new TunError('INVALID_ARGUMENT', 'metric', `${s.metric} is not a 32-bit unsigned integer`);
    }
    v.setUint8(L.UseAutomaticMetric, 0);
    v.setUint32(L.Metric, s.metric, true);
  }
  return row;
}

export function decodeInterfaceRow(row: Uint8Array): {
  family: number;
  luid: bigint;
  interfaceIndex: number;
  mtu: number;
  metric: number;
  useAutomaticMetric: boolean;
  sitePrefixLength: number;
} {
  const L = MIB_IPINTERFACE_ROW;
  const v = viewOf(row, L.size, 'MIB_IPINTERFACE_ROW');
  return {
    family: v.getUint16(L.Family, true),
    luid: v.getBigUint64(L.InterfaceLuid, true),
    interfaceIndex: v.getUint32(L.InterfaceIndex, true),
    mtu: v.getUint32(L.NlMtu, true),
    metric: v.getUint32(L.Metric, true),
    useAutomaticMetric: v.getUint8(L.UseAutomaticMetric) !== 0,
    sitePrefixLength: v.getUint32(L.SitePrefixLength, true),
  };
}
