import { parsePrefix } from './address.js';
import {
  MAX_ADAPTER_NAME,
  WINTUN_DEFAULT_RING_CAPACITY,
  WINTUN_DOWNLOAD_URL_HINT,
  WintunLoggerLevel,
} from './constants.js';
import { WindowsTun } from './device.js';
import { TunError, win32ErrorName } from './errors.js';
import { guidFromName, parseGuid } from './guid.js';
import type { TunLogger } from './logger.js';
import { validateRingCapacity } from './ring.js';
import type { WindowsRouting } from './routing.js';
import type { AdapterHandle, SessionHandle, WintunApi } from './wintun-api.js';

export interface OpenTunOptions {
  /** Adapter name (its Windows "alias"), 1..127 UTF-16 units. Default "ztun". */
  name?: string;
  /** Wintun tunnel type shown by Windows. Default "ztun". */
  tunnelType?: string;
  /** Adapter GUID ("{...}" or 16 bytes). Default: derived from the name, so it is stable across runs. */
  guid?: string | Uint8Array;
  /** "create" (default): a new adapter, removed by close(). "open": an existing adapter, left in place.
   *  "create-or-open": create, and open the existing one if the name/GUID is taken. */
  mode?: 'create' | 'open' | 'create-or-open';
  /** Addresses in CIDR form ("198.18.0.1/15", "fd00:7a74::1/64"), added after the adapter exists. */
  addresses?: string[];
  /** IP MTU set on the interface (IPv4 and, if enabled, IPv6). Default 1500. */
  mtu?: number;
  /** Interface metric (turns automatic metric off). Windows orders DNS servers and equal routes by it, so a
   *  tunnel that should win sets a low one (wireguard-windows uses 0). Default: automatic. */
  metric?: number;
  /** Wintun ring capacity in bytes: a power of two in 128 KiB..64 MiB. Default 8 MiB. */
  ringCapacity?: number;
  /** Most packets per batch. Default 64. */
  batchSize?: number;
  /** Batches delivered back to back before yielding to the event loop. Default 4 (as tun-linux). */
  batchesPerWake?: number;
  /** Bound on one off-thread wait for packets; close() returns within about this. Default 100 ms. */
  waitTimeoutMs?: number;
  /** Path to wintun.dll or its folder (else: beside the executable, then in this package's folder). */
  dllPath?: string;
  /** Receives this package's and the Wintun driver's log lines. */
  logger?: TunLogger;
}

const DEFAULTS = { name: 'ztun', tunnelType: 'ztun', mtu: 1500, batchSize: 64, waitTimeoutMs: 100 } as const;

function checkName(what: string, value: string): string {
  if (value.length === 0 || value.length >= MAX_ADAPTER_NAME) {
    throw new TunError(
      'INVALID_ARGUMENT',
      what,
      `${JSON.stringify(value)} must be 1..${MAX_ADAPTER_NAME - 1} characters`,
    );
  }
  return value;
}

function checkInt(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TunError('INVALID_ARGUMENT', what, `${value} is outside ${min}..${max}`);
  }
  return value;
}

/** Forward Wintun's log lines (level 0/1/2) to a TunLogger. */
export function wintunLogBridge(
  logger: TunLogger,
): (level: number, timestamp: bigint, message: string) => void {
  return (level, _timestamp, message) => {
    const line = `wintun: ${message}`;
    if (level === WintunLoggerLevel.Error) logger.error(line);
    else if (level === WintunLoggerLevel.Warn) logger.warn(line);
    else logger.info(line);
  };
}

/** The parts of WindowsRouting the device needs. */
export type DeviceHost = Pick<
  WindowsRouting,
  'interfaceIndex' | 'setInterface' | 'addAddress' | 'deleteAddress'
>;

/**
 * Open a Wintun device over given APIs (openTun passes the real ones; tests pass fakes). On any failure after
 * the adapter exists it is closed again, so nothing is left behind.
 */
export function openWintunDevice(api: WintunApi, host: DeviceHost, options: OpenTunOptions = {}): WindowsTun {
  const name = checkName('name', options.name ?? DEFAULTS.name);
  const tunnelType = checkName('tunnelType', options.tunnelType ?? DEFAULTS.tunnelType);
  const mtu = checkInt('mtu', options.mtu ?? DEFAULTS.mtu, 576, 0xffff);
  const batchSize = checkInt('batchSize', options.batchSize ?? DEFAULTS.batchSize, 1, 4096);
  const batchesPerWake = checkInt('batchesPerWake', options.batchesPerWake ?? 4, 1, 1024);
  const waitTimeoutMs = checkInt('waitTimeoutMs', options.waitTimeoutMs ?? DEFAULTS.waitTimeoutMs, 1, 60_000);
  const capacity = validateRingCapacity(options.ringCapacity ?? WINTUN_DEFAULT_RING_CAPACITY);
  const guid =
    typeof options.guid === 'string' ? parseGuid(options.guid) : (options.guid ?? guidFromName(name));
  if (guid.length !== 16) throw new TunError('INVALID_ARGUMENT', 'guid', 'must be 16 bytes');
  const mode = options.mode ?? 'create';
  const logger = options.logger;
  const addresses = (options.addresses ?? []).map((a) => {
    parsePrefix(a); // reject bad CIDRs before any adapter exists
    return a;
  });

  if (logger) api.setLogger(wintunLogBridge(logger));
  let adapter: AdapterHandle;
  if (mode === 'open') {
    adapter = api.openAdapter(name);
  } else {
    try {
      adapter = api.createAdapter(name, tunnelType, guid);
    } catch (err) {
      if (mode !== 'create-or-open' || !(err instanceof TunError) || err.code !== 'ALREADY_EXISTS') throw err;
      adapter = api.openAdapter(name);
    }
  }
  try {
    const driver = api.getRunningDriverVersion();
    if (driver.version === 0) {
      throw new TunError(
        'DRIVER_NOT_LOADED',
        'WintunGetRunningDriverVersion',
        `the Wintun driver is not running (${win32ErrorName(driver.error)}). ${WINTUN_DOWNLOAD_URL_HINT}`,
        driver.error,
      );
    }
    logger?.info(`wintun: driver ${driver.version >>> 16}.${driver.version & 0xffff}, adapter ${name}`);
    const luid = api.getAdapterLuid(adapter);
    const index = host.interfaceIndex(luid);
    const settings = options.metric === undefined ? { mtu } : { mtu, metric: options.metric };
    host.setInterface(luid, 4, settings);
    try {
      host.setInterface(luid, 6, settings);
    } catch (err) {
      // IPv6 may be disabled on the adapter; IPv4 is what must work.
      logger?.warn(`${name}: IPv6 MTU not set: ${(err as Error).message}`);
    }
    // Addresses go with the adapter when close() removes it; an opened (not created) adapter stays, so what
    // we added is removed again on close or on failure here.
    const added: string[] = [];
    const removeAdded = () => {
      for (const a of added.splice(0)) {
        try {
          host.deleteAddress(luid, a);
        } catch (err) {
          logger?.warn(`${name}: could not remove ${a}: ${(err as Error).message}`);
        }
      }
    };
    let session: SessionHandle;
    try {
      for (const a of addresses) if (host.addAddress(luid, a)) added.push(a);
      session = api.startSession(adapter, capacity);
    } catch (err) {
      removeAdded();
      throw err;
    }
    try {
      return new WindowsTun({
        api,
        adapter,
        session,
        name,
        index,
        luid,
        mtu,
        batchSize,
        batchesPerWake,
        waitTimeoutMs,
        logger,
        beforeRelease: removeAdded,
      });
    } catch (err) {
      api.endSession(session);
      removeAdded();
      throw err;
    }
  } catch (err) {
    api.closeAdapter(adapter);
    throw err;
  }
}

/** Open a Wintun device (Windows only; needs Administrator to create adapters). */
export async function openTun(options: OpenTunOptions = {}): Promise<WindowsTun> {
  if (process.platform !== 'win32') {
    throw new TunError(
      'UNSUPPORTED_PLATFORM',
      'openTun',
      `Wintun devices need Windows; this is ${process.platform}`,
    );
  }
  const [{ loadWintunApi }, { loadIpHelperApi }, { WindowsRouting }] = await Promise.all([
    import('./wintun.windows.js'),
    import('./iphlpapi.windows.js'),
    import('./routing.js'),
  ]);
  const api = await loadWintunApi({ dllPath: options.dllPath });
  const routing = new WindowsRouting(await loadIpHelperApi());
  return openWintunDevice(api, routing, options);
}

/** IP Helper routing for Windows (addresses, routes, MTU/metric). Windows only. */
export async function openWindowsRouting(): Promise<WindowsRouting> {
  const [{ loadIpHelperApi }, { WindowsRouting }] = await Promise.all([
    import('./iphlpapi.windows.js'),
    import('./routing.js'),
  ]);
  return new WindowsRouting(await loadIpHelperApi());
}
