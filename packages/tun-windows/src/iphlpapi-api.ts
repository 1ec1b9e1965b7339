/**
 * The slice of iphlpapi.dll the routing code uses, over row byte buffers (layouts in layout.ts), so the logic
 * can be tested with a fake on any OS. The real implementation is iphlpapi.windows.ts.
 * Functions return the Win32 status (0 = NO_ERROR) as iphlpapi does; they do not throw.
 */
export interface IpHelperApi {
  /** InitializeUnicastIpAddressEntry: fills an 80-byte row with the system defaults. */
  initializeUnicastIpAddressEntry(row: Uint8Array): void;
  createUnicastIpAddressEntry(row: Uint8Array): number;
  deleteUnicastIpAddressEntry(row: Uint8Array): number;
  /** GetUnicastIpAddressTable(family), each row copied out (80 bytes), then FreeMibTable. */
  getUnicastIpAddressTable(family: number): { status: number; rows: Uint8Array[] };
  /** InitializeIpForwardEntry: fills a 104-byte row with the system defaults. */
  initializeIpForwardEntry(row: Uint8Array): void;
  createIpForwardEntry2(row: Uint8Array): number;
  deleteIpForwardEntry2(row: Uint8Array): number;
  /** GetIpForwardTable2(family), each row copied out (104 bytes), then FreeMibTable. */
  getIpForwardTable2(family: number): { status: number; rows: Uint8Array[] };
  /** GetIfTable2: every interface, each row copied out (1352 bytes), then FreeMibTable. */
  getIfTable2(): { status: number; rows: Uint8Array[] };
  /** GetIpInterfaceEntry: row holds Family + InterfaceLuid on input, the whole row on output. */
  getIpInterfaceEntry(row: Uint8Array): number;
  setIpInterfaceEntry(row: Uint8Array): number;
  /** ConvertInterfaceLuidToIndex. */
  convertInterfaceLuidToIndex(luid: bigint): { status: number; index: number };
  /** ConvertInterfaceIndexToLuid. */
  convertInterfaceIndexToLuid(index: number): { status: number; luid: bigint };
}
