import type { StackSockets } from '@ztun/packet';
import { portableSockets } from '@ztun/stack';
import { Command, CommanderError } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { addRunOptions, FLAG_KEYS } from './cli-options.js';
import {
  ConfigError,
  DEFAULT_NAME,
  type RawConfig,
  type RunConfig,
  readConfigFile,
  resolveConfig,
} from './config.js';
import { markedUdpSockets } from './dns-query.js';
import { refuseLinuxOnly } from './linux-only.js';
import { createLogger, type Logger } from './log.js';
import { darwinPlanner, loadPlatform } from './platform/index.js';
import type { Platform } from './platform/types.js';
import { RunRefused } from './platform/types.js';
import { ProxyAddress, ProxyResolveAborted, ProxyResolveError } from './proxy-address.js';
import { runTunnel } from './run.js';
import { type LogFile, openLogFile, writePidFile } from './run-files.js';

export interface CliIO {
  stdout: { write(text: string): void; isTTY?: boolean };
  stderr: { write(text: string): void };
  /** Overrides the platform (tests). */
  platform?: Platform;
}

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

  const run = program
    .command('run')
    .description('create the TUN device, install routes/rules and run the tunnel until SIGINT/SIGTERM');
  addRunOptions(run).action((opts: Record<string, unknown>) => onAction(runAction(opts, io)));

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
  ztun run --auto-route --dry-run --platform darwin   # the macOS plan, printed on any OS
  ztun run --auto-route --dry-run --platform win32
  ztun cleanup`,
  );
  return program;
}

async function runAction(opts: Record<string, unknown>, io: CliIO): Promise<number> {
  const flags: RawConfig = {};
  for (const [k, v] of Object.entries(opts)) {
    const key = FLAG_KEYS[k];
    if (key && v !== undefined) flags[key] = v;
  }
  const configPath = opts.config as string | undefined;
  const file = configPath ? { path: configPath, values: readConfigFile(configPath) } : undefined;
  const config = resolveConfig(flags, file);
  // A dry run changes nothing: no log or PID file either.
  const logFile = config.logFile && !opts.dryRun ? openLogFile(config.logFile) : undefined;
  try {
    return await runResolved(config, opts, io, logFile);
  } finally {
    logFile?.close();
  }
}

async function runResolved(
  config: RunConfig,
  opts: Record<string, unknown>,
  io: CliIO,
  logFile: LogFile | undefined,
): Promise<number> {
  const log = createLogger(config.logLevel, (l) => {
    io.stderr.write(l);
    logFile?.write(l);
  });

  const os = opts.platform as NodeJS.Platform | undefined;
  if (os !== undefined && !opts.dryRun) {
    throw new ConfigError(`--platform ${os} only goes with --dry-run: ztun runs on the OS it is on`);
  }
  // macOS's plan is pure (plan.darwin.ts): printed anywhere, even where npm left the darwin packages out.
  const platform =
    io.platform ??
    (os === 'darwin' && process.platform !== 'darwin' ? darwinPlanner() : await loadPlatform(os));
  if (platform.unsupported) throw new RunRefused(platform.unsupported, 2);
  refuseLinuxOnly(platform.os, config);
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
    proxy = await resolveProxy(
      config,
      log,
      platform.unsupported ? undefined : platform.sockets,
      startup.signal,
    );
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
  const removePid = config.pidFile ? writePidFile(config.pidFile) : undefined;
  try {
    return await runTunnel(platform, config, {
      proxyAddresses,
      ...(proxy ? { proxy } : {}),
      log,
      statsOut: { write: (t) => io.stdout.write(t), isTTY: Boolean(io.stdout.isTTY) },
    });
  } finally {
    removePid?.();
  }
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
