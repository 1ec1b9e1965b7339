import type { StackSockets } from '@ztun/packet';
import { portableSockets } from '@ztun/stack';
import { Command, CommanderError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import {
  ConfigError,
  DEFAULT_ADDRESS,
  DEFAULT_ADDRESS6,
  DEFAULT_MTU,
  DEFAULT_NAME,
  type RawConfig,
  type RunConfig,
  readConfigFile,
  resolveConfig,
} from './config.js';
import { markedUdpSockets } from './dns-query.js';
import { createLogger, type Logger } from './log.js';
import { loadPlatform } from './platform/index.js';
import type { Platform } from './platform/types.js';
import { RunRefused } from './platform/types.js';
import { ProxyAddress, ProxyResolveAborted, ProxyResolveError } from './proxy-address.js';
import { runTunnel } from './run.js';

export interface CliIO {
  stdout: { write(text: string): void; isTTY?: boolean };
  stderr: { write(text: string): void };
  /** Overrides the platform (tests). */
  platform?: Platform;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/**
 * The SOCKS5 server's address, resolved before any route goes in (the plan keeps it out of the TUN).
 * Undefined for `direct`. A name that does not resolve throws ProxyResolveError.
 */
export async function resolveProxy(
  config: RunConfig,
  log: Logger,
  osSockets: StackSockets = portableSockets,
  signal?: AbortSignal,
): Promise<ProxyAddress | undefined> {
  if (config.proxy.kind !== 'socks5') return undefined;
  // Marked like the outbounds, so leftovers of a killed run (e.g. a kill-switch) cannot swallow the
  // queries; unmarked when this process may not set SO_MARK (the run itself then refuses anyway).
  return await ProxyAddress.resolve({
    host: config.proxy.host,
    log,
    sockets: markedUdpSockets(config.fwmark, true, osSockets),
    ...(signal ? { signal } : {}),
  });
}

function buildProgram(io: CliIO, onAction: (p: Promise<number>) => void): Command {
  const program = new Command();
  program
    .name('ztun')
    .description(pkg.description)
    .version(pkg.version, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Errors are printed by main() as exactly one line.
      outputError: () => {},
    });

  program
    .command('run')
    .description('create the TUN device, install routes/rules and run the tunnel until SIGINT/SIGTERM')
    .option('--name <name>', `TUN interface name (default ${DEFAULT_NAME})`)
    .option(
      '--address <cidr>',
      `address of the TUN, IPv4 or IPv6; repeatable (default ${DEFAULT_ADDRESS}, plus ${DEFAULT_ADDRESS6} with --auto-route)`,
      collect,
    )
    .option('--mtu <n>', `TUN MTU (default ${DEFAULT_MTU}; see README)`)
    .option(
      '--txqueuelen <n>',
      'packets the kernel queues for ztun before dropping (default: ~6 MiB worth, 500..4096; see README)',
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
    .option('--offload', 'TUN checksum offload, IFF_VNET_HDR + TUN_F_CSUM (Linux; the default there)')
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
    .option('--config <file>', 'read options from a YAML or JSON file (same keys; flags win)')
    .action((opts: Record<string, unknown>) => onAction(runAction(opts, io)));

  program
    .command('cleanup')
    .description("remove routes, rules and devices a crashed run left behind (found by ztun's tags)")
    .option('--name <name>', `TUN interface name to look for (default ${DEFAULT_NAME})`)
    .action((opts: { name?: string }) => onAction(cleanupAction(opts, io)));

  program.addHelpText(
    'after',
    `
Examples:
  ztun run --proxy socks5://127.0.0.1:1080 --auto-route
  ztun run --route 10.0.0.0/8 --address 198.18.0.1/15 --address fd00:7a74::1/64
  ztun run --config /etc/ztun.yaml --dry-run
  ztun run --auto-route --dry-run --platform win32
  ztun cleanup`,
  );
  return program;
}

const FLAG_KEYS: Record<string, keyof RawConfig> = {
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
  dns: 'dns',
  fakeIpRange: 'fake-ip-range',
  dnsHijack: 'dns-hijack',
  ipv6: 'ipv6',
};

async function runAction(opts: Record<string, unknown>, io: CliIO): Promise<number> {
  const flags: RawConfig = {};
  for (const [k, v] of Object.entries(opts)) {
    const key = FLAG_KEYS[k];
    if (key && v !== undefined) flags[key] = v;
  }
  const configPath = opts.config as string | undefined;
  const file = configPath ? { path: configPath, values: readConfigFile(configPath) } : undefined;
  const config = resolveConfig(flags, file);
  const log = createLogger(config.logLevel, (l) => io.stderr.write(l));

  const os = opts.platform as NodeJS.Platform | undefined;
  if (os !== undefined && !opts.dryRun) {
    throw new ConfigError(`--platform ${os} only goes with --dry-run: ztun runs on the OS it is on`);
  }
  const platform = io.platform ?? (await loadPlatform(os));
  if (platform.unsupported) throw new RunRefused(platform.unsupported, 2);
  let proxy: ProxyAddress | undefined;
  // A signal while the proxy host resolves (nothing is applied yet) stops at once.
  const startup = new AbortController();
  let stoppedBy: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    stoppedBy ??= sig;
    startup.abort();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, onSignal);
  try {
    proxy = await resolveProxy(config, log, platform.sockets, startup.signal);
  } catch (err) {
    if (err instanceof ProxyResolveAborted) {
      log.info(
        `${stoppedBy ?? 'aborted'} while resolving the proxy host: stopped before ready; nothing was changed`,
      );
      return 0;
    }
    // A dry run still shows the plan (with a note that the proxy gets no bypass rule).
    if (!(err instanceof ProxyResolveError)) throw err;
    if (!opts.dryRun) throw new RunRefused(err.message);
    log.warn(err.message);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
  }
  const proxyAddresses = proxy?.addresses ?? [];
  if (opts.dryRun) {
    proxy?.stop();
    io.stdout.write(await platform.dryRun(config, proxyAddresses));
    return 0;
  }
  return runTunnel(platform, config, {
    proxyAddresses,
    ...(proxy ? { proxy } : {}),
    log,
    statsOut: { write: (t) => io.stdout.write(t), isTTY: Boolean(io.stdout.isTTY) },
  });
}

async function cleanupAction(opts: { name?: string }, io: CliIO): Promise<number> {
  const config = resolveConfig(opts.name ? { name: opts.name } : {});
  const platform = io.platform ?? (await loadPlatform());
  if (platform.unsupported) throw new RunRefused(platform.unsupported, 2);
  return platform.cleanup({ log: createLogger('info', (l) => io.stderr.write(l)), name: config.name });
}

/** Runs the CLI; resolves the process exit code. Errors become one `ztun: …` line on stderr. */
export async function main(argv: readonly string[], io: CliIO = defaultIO()): Promise<number> {
  let action: Promise<number> | undefined;
  const program = buildProgram(io, (p) => {
    action = p;
  });
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync(argv as string[]);
    return action ? await action : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
        return 0;
      }
      if (err.code === 'commander.help') return 2;
      io.stderr.write(`ztun: ${err.message.replace(/^error: /, '').split('\n')[0]}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`ztun: ${err.message}\n`);
      return 2;
    }
    if (err instanceof RunRefused) {
      io.stderr.write(`ztun: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    io.stderr.write(`ztun: ${e?.message ?? String(err)}\n`);
    return 1;
  }
}

function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr };
}
