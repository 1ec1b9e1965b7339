// Shared by `pnpm demo` and `pnpm bench:tunnel`: two network namespaces of their own, started processes,
// and a cleanup that runs on success, failure, Ctrl-C and SIGTERM. Plain child_process + iproute2.
//
//   client ns: veth 10.211.0.1/30 fd00:211::1/64, default via the server; ztun runs here
//   server ns: veth 10.211.0.2/30 fd00:211::2/64; lo 10.212.0.1 (danted), 10.212.0.2 + fd00:212::2 (servers)

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'dist', 'bin.js');
export const EMBED = join(here, '..', 'examples', 'embed.mjs');
export const HTTP_SERVER = join(here, 'http-server.mjs');
export const SERVER = '10.212.0.2';
export const SERVER6 = 'fd00:212::2';
export const SOCKS = '10.212.0.1';

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || '').trim()}`);
  }
  return r;
}

export const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export function preflight() {
  const problems = [];
  if (process.platform !== 'linux') problems.push('needs Linux');
  if (process.getuid?.() !== 0) problems.push('needs root (it creates network namespaces): run it with sudo');
  if (!existsSync('/dev/net/tun')) problems.push('needs /dev/net/tun');
  if (!has('ip')) problems.push('needs iproute2 (ip)');
  if (!existsSync(BIN)) problems.push(`needs the built CLI (${BIN}): run \`pnpm build\` first`);
  return problems;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(what, check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Builds the two namespaces; returns helpers and a `cleanup()` that is also wired to signals and exit. The
 * namespaces are named `<prefix>c<tag><pid>` and `<prefix>s<tag><pid>`.
 */
export function createTopology(tag, { vethMtu, nsPrefix } = {}) {
  const id = `${tag}${process.pid.toString(36)}`;
  // nsPrefix, else ZTUN_TEST_NETNS_PREFIX (two lowercase letters, as @ztun/testkit): sessions sharing a
  // machine keep apart.
  const env = process.env.ZTUN_TEST_NETNS_PREFIX;
  const prefix = nsPrefix ?? (env !== undefined && /^[a-z]{2}$/.test(env) ? env : 'zt');
  const client = `${prefix}c${id}`;
  const server = `${prefix}s${id}`;
  const procs = new Set();
  const tmp = mkdtempSync(join(tmpdir(), 'ztun-topo-'));
  let cleaned = false;

  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const p of procs) {
      try {
        p.kill('SIGKILL');
      } catch {}
    }
    for (const ns of [client, server]) {
      // Anything still inside (e.g. a forked danted) goes too, by PID.
      const pids =
        run('ip', ['netns', 'pids', ns], { allowFail: true }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {}
      }
      run('ip', ['netns', 'del', ns], { allowFail: true });
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      console.error(`\n${sig}: removing the namespaces`);
      cleanup();
      process.exit(130);
    });
  }

  const ip = (ns, ...args) => run('ip', ['-n', ns, ...args]);
  run('ip', ['netns', 'add', client]);
  run('ip', ['netns', 'add', server]);
  for (const ns of [client, server]) ip(ns, 'link', 'set', 'lo', 'up');
  ip(client, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
  ip(client, 'link', 'set', 'veth1', 'netns', server);
  ip(client, 'addr', 'add', '10.211.0.1/30', 'dev', 'veth0');
  ip(client, 'addr', 'add', 'fd00:211::1/64', 'dev', 'veth0', 'nodad');
  ip(server, 'addr', 'add', '10.211.0.2/30', 'dev', 'veth1');
  ip(server, 'addr', 'add', 'fd00:211::2/64', 'dev', 'veth1', 'nodad');
  if (vethMtu) {
    ip(client, 'link', 'set', 'veth0', 'mtu', String(vethMtu));
    ip(server, 'link', 'set', 'veth1', 'mtu', String(vethMtu));
  }
  ip(client, 'link', 'set', 'veth0', 'up');
  ip(server, 'link', 'set', 'veth1', 'up');
  for (const a of [`${SOCKS}/32`, `${SERVER}/32`, `${SERVER6}/128`])
    ip(server, 'addr', 'add', a, 'dev', 'lo');
  ip(client, '-4', 'route', 'add', 'default', 'via', '10.211.0.2');
  ip(client, '-6', 'route', 'add', 'default', 'via', 'fd00:211::2');

  /**
   * Starts a process inside `ns`; its output is collected (and echoed when `echo` is a prefix). `stdin`:
   * true gives it a pipe (child.stdin) instead of nothing.
   */
  const start = (ns, cmd, args, echo, { stdin = false } = {}) => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    procs.add(child);
    let out = '';
    const onData = (d) => {
      out += d.toString();
      if (echo) {
        for (const line of d.toString().split('\n')) if (line.trim()) console.log(`${echo}${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    void exited.then(() => procs.delete(child));
    return {
      child,
      exited,
      output: () => out,
      async stop(graceMs = 5000) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
          const r = await exited;
          clearTimeout(t);
          return r;
        }
        return exited;
      },
    };
  };

  const listening = (ns, port) => {
    const r = run('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`], { allowFail: true });
    return r.status === 0 && r.stdout.trim().length > 0;
  };

  return {
    client,
    server,
    /** The two-letter prefix of this run's names (namespaces, and any interface a bench creates). */
    prefix,
    tmp,
    ip,
    start,
    cleanup,
    listening,
    exec: (ns, cmd, args, opts) => run('ip', ['netns', 'exec', ns, cmd, ...args], opts),

    async startHttp(port = 8080) {
      const p = start(server, process.execPath, [HTTP_SERVER, SERVER, String(port), SERVER6]);
      await waitUntil('the HTTP server', () => p.output().includes('listening'));
      return p;
    },

    async startDanted(port = 1080) {
      const conf = join(tmp, 'danted.conf');
      writeFileSync(
        conf,
        [
          'logoutput: stderr',
          `internal: ${SOCKS} port = ${port}`,
          `external: ${SOCKS}`,
          'socksmethod: none',
          'clientmethod: none',
          'user.privileged: root',
          'user.unprivileged: nobody',
          'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
          'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate bind }',
          '',
        ].join('\n'),
      );
      const p = start(server, 'danted', ['-f', conf, '-p', join(tmp, 'danted.pid'), '-N', '1']);
      await waitUntil('danted', () => listening(server, port));
      return p;
    },

    /** Starts examples/embed.mjs (createTunnel from the ztun package) with `config` in the client namespace. */
    async startEmbedded(config, echo) {
      const p = start(client, process.execPath, [EMBED, JSON.stringify(config)], echo);
      await waitUntil(
        'the embedded tunnel ready',
        () => {
          if (p.child.exitCode !== null) throw new Error(`embed.mjs exited early:\n${p.output()}`);
          return p.output().includes('embed: ready:');
        },
        15_000,
      );
      return p;
    },

    /** Starts `ztun run ARGS` in the client namespace; resolves once it logged "ready". */
    async startZtun(args, echo) {
      const p = start(client, process.execPath, [BIN, 'run', ...args], echo);
      await waitUntil(
        'ztun ready',
        () => {
          if (p.child.exitCode !== null) throw new Error(`ztun exited early:\n${p.output()}`);
          return p.output().includes('ztun: ready:');
        },
        15_000,
      );
      return p;
    },
  };
}
