/**
 * The slice of wintun.dll (plus WaitForSingleObject) the device uses, in a JS-friendly form, so the read/write
 * loop can be tested with a fake on any OS. The real implementation is wintun.windows.ts.
 * Hot-path calls return numbers instead of throwing: an empty ring is the common case, not an exception.
 */

declare const handleBrand: unique symbol;
/** Opaque native handle (a koffi pointer on Windows, anything in a fake). */
export type WintunHandle<Kind extends string> = { readonly [handleBrand]: Kind };
export type AdapterHandle = WintunHandle<'adapter'>;
export type SessionHandle = WintunHandle<'session'>;
export type EventHandle = WintunHandle<'event'>;

/** WINTUN_LOGGER_CALLBACK: level 0 info, 1 warn, 2 error; timestamp in 100 ns units since 1601-01-01 UTC. */
export type WintunLogCallback = (level: number, timestamp: bigint, message: string) => void;

export interface WintunApi {
  /** WintunCreateAdapter. Throws TunError. `requestedGuid` is 16 bytes in GUID memory layout. */
  createAdapter(name: string, tunnelType: string, requestedGuid?: Uint8Array): AdapterHandle;
  /** WintunOpenAdapter. Throws TunError (NOT_FOUND when there is no such adapter). */
  openAdapter(name: string): AdapterHandle;
  /** WintunCloseAdapter: releases the handle, removing the adapter if this handle created it. */
  closeAdapter(adapter: AdapterHandle): void;
  /** WintunGetAdapterLUID. */
  getAdapterLuid(adapter: AdapterHandle): bigint;
  /** WintunGetRunningDriverVersion: 0 with the Win32 error when the driver is not loaded. */
  getRunningDriverVersion(): { version: number; error: number };
  /** WintunSetLogger; null disables. */
  setLogger(callback: WintunLogCallback | null): void;
  /** WintunStartSession. Throws TunError. */
  startSession(adapter: AdapterHandle, capacity: number): SessionHandle;
  /** WintunEndSession. */
  endSession(session: SessionHandle): void;
  /** WintunGetReadWaitEvent (owned by the session; never closed by us). */
  getReadWaitEvent(session: SessionHandle): EventHandle;
  /**
   * WintunReceivePacket, copy into dst at offset, WintunReleaseReceivePacket.
   * Returns the packet size (> 0), or the NEGATED Win32 error (-ERROR_NO_MORE_ITEMS when the ring is empty,
   * -ERROR_HANDLE_EOF when the adapter is gone, -ERROR_INVALID_DATA when the ring is corrupt).
   * The caller guarantees WINTUN_MAX_IP_PACKET_SIZE bytes of room from offset.
   */
  receivePacket(session: SessionHandle, dst: Uint8Array, offset: number): number;
  /**
   * WintunAllocateSendPacket, copy src[offset, offset+length), WintunSendPacket.
   * Returns 0 (ERROR_SUCCESS) or the Win32 error (ERROR_BUFFER_OVERFLOW: ring full; ERROR_HANDLE_EOF: gone).
   */
  sendPacket(session: SessionHandle, src: Uint8Array, offset: number, length: number): number;
  /**
   * Optional: a buffer the implementation copies into/out of cheaply (native memory on Windows). The device
   * allocates its batch buffer with it and frees it after close.
   */
  allocBuffer?(size: number): Uint8Array;
  freeBuffer?(buffer: Uint8Array): void;
  /** WaitForSingleObject off the main thread: WAIT_OBJECT_0, WAIT_TIMEOUT or WAIT_FAILED. */
  waitForEvent(event: EventHandle, timeoutMs: number): Promise<number>;
}
