// `--fd N` (issue 16 item 2): adopt a TUN someone else opened and passed down (Android's VpnService, a
// supervisor, a container runtime). Its name, MTU and queue are its owner's, so the flags that would set
// them are refused beside it rather than silently ignored.

export const FD_CONFIG_KEYS = ['fd'] as const;
type Key = 'fd' | 'name' | 'mtu' | 'txqueuelen';

export interface FdConfig {
  /** The descriptor of an attached TUN to adopt instead of creating one. */
  readonly fd?: number;
}

type Pick = (key: Key) => { value: unknown; label: string } | undefined;

export function resolveFd(pick: Pick, bad: (message: string) => Error): FdConfig {
  const p = pick('fd');
  if (!p) return {};
  const text =
    typeof p.value === 'number' ? String(p.value) : typeof p.value === 'string' ? p.value.trim() : '';
  const fd = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(fd >= 3 && fd <= 0x7fffffff))
    throw bad(
      `${p.label}: '${String(p.value)}' is not a descriptor number of 3 or more (0-2 are stdin, stdout, stderr)`,
    );
  for (const key of ['name', 'mtu', 'txqueuelen'] as const) {
    const other = pick(key);
    if (other)
      throw bad(
        `${other.label}: cannot be combined with --fd (the adopted device's name, MTU and queue are its owner's)`,
      );
  }
  return { fd };
}
