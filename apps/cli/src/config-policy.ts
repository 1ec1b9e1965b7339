// Who enters the tunnel (issue 16 item 1): the config keys of the uid and interface selectors, parsed here so
// config.ts only wires them in. Linux-only; the plan turns them into policy rules (@ztun/routing-linux
// auto-route/selectors.ts).

export const POLICY_CONFIG_KEYS = [
  'include-uid',
  'exclude-uid',
  'include-interface',
  'exclude-interface',
] as const;
type PolicyKey = (typeof POLICY_CONFIG_KEYS)[number];

/** Users start..end inclusive (uid_t; `ip rule … uidrange`). */
export interface UidRange {
  readonly start: number;
  readonly end: number;
}

export interface PolicyConfig {
  /** Only these users' traffic enters the tunnel (with includeInterfaces: either's). Empty: everyone's. */
  readonly includeUids: readonly UidRange[];
  /** These users' traffic never enters it. */
  readonly excludeUids: readonly UidRange[];
  /** Traffic forwarded from these interfaces (a LAN gateway) enters the tunnel. */
  readonly includeInterfaces: readonly string[];
  /** Traffic arriving on these interfaces (docker0, a LAN bridge) keeps the main table. */
  readonly excludeInterfaces: readonly string[];
}

/** (uid_t)-1 is "no user"; the kernel refuses it in a range. */
const MAX_UID = 0xfffffffe;

type Pick = (key: PolicyKey) => { value: unknown; label: string } | undefined;

/** Parses the policy keys; `bad` builds the ConfigError of one line. */
export function resolvePolicy(pick: Pick, bad: (message: string) => Error): PolicyConfig {
  const items = (key: PolicyKey): { values: unknown[]; label: string } => {
    const p = pick(key);
    if (!p) return { values: [], label: '' };
    return { values: Array.isArray(p.value) ? p.value : [p.value], label: p.label };
  };
  const uids = (key: PolicyKey): UidRange[] => {
    const { values, label } = items(key);
    return values.map((v) => {
      const text = typeof v === 'number' ? String(v) : v;
      const m = typeof text === 'string' ? /^\s*(\d{1,10})\s*(?:-\s*(\d{1,10})\s*)?$/.exec(text) : null;
      const start = Number(m?.[1]);
      const end = Number(m?.[2] ?? m?.[1]);
      if (!m || start > MAX_UID || end > MAX_UID || start > end)
        throw bad(`${label}: '${String(v)}' is not a uid or uid range (UID or START-END, 0..${MAX_UID})`);
      return { start, end };
    });
  };
  const ifaces = (key: PolicyKey): string[] => {
    const { values, label } = items(key);
    return values.map((v) => {
      if (typeof v !== 'string' || !/^[^\s/:]{1,15}$/.test(v) || Buffer.byteLength(v) > 15)
        throw bad(`${label}: '${String(v)}' is not an interface name (1-15 bytes, no spaces, '/' or ':')`);
      return v;
    });
  };
  return {
    includeUids: uids('include-uid'),
    excludeUids: uids('exclude-uid'),
    includeInterfaces: ifaces('include-interface'),
    excludeInterfaces: ifaces('exclude-interface'),
  };
}

/** `ip rule`'s text of a range: 1000 or 1000-1999. */
export const formatUidRange = (r: UidRange): string =>
  r.start === r.end ? String(r.start) : `${r.start}-${r.end}`;

/** The policy flags in use, as `--flag value` (for the one line that refuses them off Linux). */
export function policyFlagsInUse(c: PolicyConfig): string[] {
  return [
    ...c.includeUids.map((r) => `--include-uid ${formatUidRange(r)}`),
    ...c.excludeUids.map((r) => `--exclude-uid ${formatUidRange(r)}`),
    ...c.includeInterfaces.map((i) => `--include-interface ${i}`),
    ...c.excludeInterfaces.map((i) => `--exclude-interface ${i}`),
  ];
}
