// The address half of sd_notify (sd-notify.linux.ts): pure, so it is tested anywhere.

export const AF_UNIX = 1;
/** sizeof(sun_path) in struct sockaddr_un (unix(7)). */
const SUN_PATH_MAX = 108;

/** struct sockaddr_un for `path` and its length, or an error text. */
export function notifyAddress(path: string): { addr: Uint8Array; length: number } | string {
  if (!path.startsWith('/') && !path.startsWith('@'))
    return `NOTIFY_SOCKET ${JSON.stringify(path)} is neither an absolute path nor an abstract name (@…)`;
  const name = Buffer.from(path, 'utf8');
  if (path.startsWith('@')) name[0] = 0;
  const withNul = path.startsWith('@') ? 0 : 1;
  if (name.length + withNul > SUN_PATH_MAX) return `NOTIFY_SOCKET is longer than ${SUN_PATH_MAX - 1} bytes`;
  const addr = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true); // sa_family_t, host order (little-endian Linux)
  addr.set(name, 2);
  return { addr, length: 2 + name.length + withNul };
}
