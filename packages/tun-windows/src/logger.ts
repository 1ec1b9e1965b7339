/** Where the device and the Wintun driver log (console fits). */
export interface TunLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
