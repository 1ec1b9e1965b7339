import { type Command, Option } from 'commander';
import { DEFAULT_ADDRESS, DEFAULT_ADDRESS6, DEFAULT_MTU, DEFAULT_NAME, type RawConfig } from './config.js';

// The flags of `ztun run` (each the config key of the same name: FLAG_KEYS maps commander's camelCase back).

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Adds every `ztun run` flag to `command`. */
export function addRunOptions(command: Command): Command {
  return command
    .option(
      '--name <name>',
      `TUN interface name (default ${DEFAULT_NAME}; macOS: utunN, or left out for the first free one)`,
    )
    .option(
      '--address <cidr>',
      `address of the TUN, IPv4 or IPv6; repeatable (default ${DEFAULT_ADDRESS}, plus ${DEFAULT_ADDRESS6} with --auto-route)`,
      collect,
    )
    .option('--mtu <n>', `TUN MTU (default ${DEFAULT_MTU}; see README)`)
    .option(
      '--txqueuelen <n>',
      'packets the kernel queues for ztun before dropping (default 4096; see README)',
    )
    .option('--proxy <url>', "'direct' or socks5://[user:pass@]host:port (default direct)")
    .option('--route <cidr>', 'send this prefix through the tunnel; repeatable', collect)
    .option('--auto-route', 'send all traffic through the tunnel (policy rules, loop-free)')
    .option('--no-auto-route', 'override auto-route: true from a config file')
    .option('--ipv6', 'with --auto-route, capture IPv6 too by default (the default)')
    .option(
      '--no-ipv6',
      `no default IPv6 address (${DEFAULT_ADDRESS6}): IPv6 is then not captured by --auto-route`,
    )
    .option('--exclude <cidr>', 'never send this prefix through the tunnel; repeatable', collect)
    .addOption(
      new Option('--icmp <mode>', 'answer pings locally or drop them (default reply)').choices([
        'reply',
        'off',
      ]),
    )
    .option('--udp-timeout <duration>', 'idle timeout of UDP sessions, e.g. 60s, 2m (default 60s)')
    .option('--pcap <file>', 'capture every packet through the TUN to this pcap file')
    .option('--splice', 'relay TCP bytes with zero-copy splice(2) (Linux; the default there)')
    .option('--no-splice', 'relay TCP bytes through Node streams instead of splice(2)')
    .option(
      '--offload',
      'TUN offload, IFF_VNET_HDR + TUN_F_CSUM and TSO (TCP super-packets at any MTU; Linux; the default there)',
    )
    .option('--no-offload', 'a plain TUN: the kernel computes and verifies every checksum')
    .addOption(
      new Option('--log-level <level>', 'error, warn, info or debug (default info)').choices([
        'error',
        'warn',
        'info',
        'debug',
      ]),
    )
    .option(
      '--stats-interval <duration>',
      'stats period; 0 disables (default: 1s live line on a TTY, 10s JSON lines otherwise)',
    )
    .option('--table <id>', 'routing table for the TUN routes (default 31348 = 0x7a74)')
    .option('--fwmark <mark>', 'SO_MARK of the tunnel outbound sockets (default 0x7a74)')
    .option(
      '--kill-switch',
      'drop routed traffic while ztun is not running (after a crash, until `ztun cleanup`); default: fail open',
    )
    .option('--no-kill-switch', 'override kill-switch: true from a config file')
    .option(
      '--include-uid <uid>',
      'only this user (UID or START-END) enters the tunnel; repeatable (Linux: uidrange rules)',
      collect,
    )
    .option(
      '--exclude-uid <uid>',
      'this user (UID or START-END) never enters the tunnel; repeatable',
      collect,
    )
    .option(
      '--include-interface <ifname>',
      'traffic forwarded from this interface enters the tunnel (a LAN gateway); repeatable',
      collect,
    )
    .option(
      '--exclude-interface <ifname>',
      'traffic arriving on this interface (e.g. docker0) keeps the main table; repeatable',
      collect,
    )
    .option(
      '--fd <n>',
      'adopt the open TUN on this descriptor (passed by a parent) instead of creating one (Linux)',
    )
    .option('--up <cmd>', 'shell command run once ready (env ZTUN_IFNAME, ZTUN_ADDRESSES)')
    .option('--down <cmd>', 'shell command run after the tunnel is torn down (same env)')
    .option('--hook-timeout <duration>', 'kill a hook still running after this long (default 30s)')
    .option('--log-file <file>', 'also append log lines, timestamped, to this file')
    .option('--pid-file <file>', 'write the process id to this file while running')
    .option(
      '--metrics <host:port>',
      'serve Prometheus /metrics and /connections JSON there (loopback only unless --metrics-allow-remote)',
    )
    .option('--metrics-allow-remote', 'allow --metrics on a non-loopback address')
    .addOption(
      new Option(
        '--dns <mode>',
        'DNS queries to port 53: udp, tcp (DNS over TCP through the proxy CONNECT), auto = udp when the proxy relays UDP, else tcp (default), or fake-ip (names answered locally, sent to the proxy by name)',
      ).choices(['auto', 'tcp', 'udp', 'fake-ip']),
    )
    .option(
      '--fake-ip-range <cidr>',
      'with --dns fake-ip: addresses given to names, inside a TUN prefix; one per family, repeatable (default: the upper half of each TUN prefix, 198.19.0.0/16)',
      collect,
    )
    .option(
      '--dns-hijack',
      'with --dns fake-ip: answer queries to any resolver address, not only to the fake-IP DNS address',
    )
    .option('--dry-run', 'print every link, address, route and rule change, change nothing, exit')
    .addOption(
      new Option(
        '--platform <os>',
        "with --dry-run: print the plan of another OS's ztun (default: this one's)",
      ).choices(['linux', 'darwin', 'win32']),
    )
    .option('--config <file>', 'read options from a YAML or JSON file (same keys; flags win)');
}

/** commander's option names → config keys. */
export const FLAG_KEYS: Record<string, keyof RawConfig> = {
  name: 'name',
  address: 'address',
  mtu: 'mtu',
  txqueuelen: 'txqueuelen',
  proxy: 'proxy',
  route: 'route',
  autoRoute: 'auto-route',
  exclude: 'exclude',
  icmp: 'icmp',
  udpTimeout: 'udp-timeout',
  pcap: 'pcap',
  splice: 'splice',
  offload: 'offload',
  logLevel: 'log-level',
  statsInterval: 'stats-interval',
  table: 'table',
  fwmark: 'fwmark',
  killSwitch: 'kill-switch',
  includeUid: 'include-uid',
  excludeUid: 'exclude-uid',
  includeInterface: 'include-interface',
  excludeInterface: 'exclude-interface',
  fd: 'fd',
  up: 'up',
  down: 'down',
  hookTimeout: 'hook-timeout',
  logFile: 'log-file',
  pidFile: 'pid-file',
  metrics: 'metrics',
  metricsAllowRemote: 'metrics-allow-remote',
  dns: 'dns',
  fakeIpRange: 'fake-ip-range',
  dnsHijack: 'dns-hijack',
  ipv6: 'ipv6',
};
