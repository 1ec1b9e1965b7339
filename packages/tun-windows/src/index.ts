// The device contract is declared once, in @ztun/packet; re-exported so imports from here keep working.
export type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
export type { IpAddress, IpFamily, IpPrefix } from './address.js';
export { formatIp, parseIp, parsePrefix } from './address.js';
export * from './constants.js';
export { WindowsTun, type WindowsTunParts } from './device.js';
export {
  type DllSearch,
  dllNotFoundError,
  findWintunDll,
  packageRoot,
  WINTUN_DLL,
  WINTUN_DOWNLOAD_URL,
  wintunArchFolder,
  wintunDllCandidates,
} from './dll.js';
export { chooseEgress, type Egress, type EgressTables, findEgress } from './egress.js';
export {
  classifyReceiveError,
  classifySendError,
  type ReceiveFailure,
  type SendFailure,
  TunError,
  type TunErrorCode,
  win32Error,
  win32ErrorName,
} from './errors.js';
export { formatGuid, guidFromName, parseGuid } from './guid.js';
export { type DecodedIfRow, decodeIfRow, encodeIfRow, IfOperStatus, IfType } from './if-row.js';
export {
  createIpHelperApi,
  IPHLPAPI_PROTOTYPES,
  type IpHelperFunction,
  lazyBinder,
  loadIpHelperApi,
} from './iphlpapi.windows.js';
export type { IpHelperApi } from './iphlpapi-api.js';
export * as layout from './layout.js';
export type { TunLogger } from './logger.js';
export {
  bindCopyFunctions,
  type CopyFunctions,
  createNativeMemory,
  type NativeMemory,
} from './native-memory.js';
export {
  type DeviceHost,
  type OpenTunOptions,
  openTun,
  openWindowsRouting,
  openWintunDevice,
  wintunLogBridge,
} from './open.js';
export { validateRingCapacity } from './ring.js';
export {
  isZtunRoute,
  type RouteEntry,
  type RouteSpec,
  WindowsRouting,
  ZTUN_ROUTE_METRIC_BASE,
  ZTUN_ROUTE_METRIC_SPAN,
  ZTUN_ROUTE_PROTOCOL,
} from './routing.js';
export {
  applyInterfaceSettings,
  clampSitePrefixLength,
  type DecodedForwardRow,
  type DecodedUnicastAddress,
  decodeForwardRow,
  decodeInterfaceRow,
  decodeUnicastAddressRow,
  encodeForwardRow,
  encodeInterfaceKey,
  encodeUnicastAddressRow,
  type ForwardRowFields,
  type InterfaceSettings,
  type UnicastAddressFields,
} from './rows.js';
export { type UnicastInterfaceSockopt, unicastInterfaceSockopt } from './unicast-if.js';
export {
  createWintunApi,
  KERNEL32_PROTOTYPES,
  loadWintunApi,
  WINTUN_LOGGER_PROTOTYPE,
  WINTUN_PROTOTYPES,
} from './wintun.windows.js';
export type {
  AdapterHandle,
  EventHandle,
  SessionHandle,
  WintunApi,
  WintunLogCallback,
} from './wintun-api.js';
