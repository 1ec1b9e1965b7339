import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import koffi from 'koffi';

// Network namespaces for tests. Every namespace is named `zt<tag><pid36><n>` (ZTUN_TEST_NETNS_PREFIX
// replaces `zt`) so parallel test files and sessions never collide, and is removed (with every process started in it) on dispose, on process exit,
// and on SIGINT/SIGTERM. The host namespace is never changed.

const CLONE_NEWNET = 0x40000000;
const live = new Set<Netns>();
let counter = 0;
let exitHookInstalled = false;

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `namespace tests need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'namespace tests need root';
  if (!existsSync('/dev/net/tun')) return 'namespace tests need /dev/net/tun';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0)
    return 'namespace tests need iproute2 (`ip`)';
  return undefined;
}

/** True when namespace tests can run; prints the reason once when they cannot. */
export function canUseNetns(): boolean {
  const reason = netnsSkipReason();
  if (reason) console.warn(`[skip] ${reason}`);
  return reason === undefined;
}

/** Runs a command synchronously; throws with its stderr when it fails. */
export function sh(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Runs a command; returns status and output instead of throwing. */
export function tryCommand(
  cmd: string,
  args: readonly string[],
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export interface SpawnedInNetns {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited and its output is read. */
  readonly exited: Promise<number | string>;
  /** Collected stdout/stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when exited. */
  stop(graceMs?: number): Promise<number | string>;
}

export class Netns {
  private readonly children = new Set<SpawnedInNetns>();
  private disposed = false;

  constructor(readonly name: string) {}

  /** `ip netns exec NAME cmd args…`, synchronously; throws on failure. */
  exec(cmd: string, args: readonly string[] = [], input?: string): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  /** Like exec but never throws. */
  tryExec(cmd: string, args: readonly string[] = []): { status: number; stdout: string; stderr: string } {
    return tryCommand('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  /** `ip -n NAME -j …` parsed as JSON. */
  ipJson<T = unknown>(...args: string[]): T {
    const out = sh('ip', ['-n', this.name, '-j', ...args]).trim();
    return (out ? JSON.parse(out) : []) as T;
  }

  /** `ip -n NAME …`. */
  ip(...args: string[]): string {
    return sh('ip', ['-n', this.name, ...args]);
  }

  /** Starts a long-running process inside the namespace; it is stopped by PID on dispose. */
  spawn(cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): SpawnedInNetns {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // Resolve on 'close' (exit and stdio drained) so output() is complete; a grandchild holding the pipes
    // open must not hang us, so 'exit' also resolves after a short grace.
    const exited = new Promise<number | string>((resolve) => {
      child.once('close', (code, signal) => resolve(code ?? signal ?? -1));
      child.once('exit', (code, signal) => {
        setTimeout(() => resolve(code ?? signal ?? -1), 500).unref();
      });
      child.once('error', () => resolve(-1));
    });
    const handle: SpawnedInNetns = {
      child,
      exited,
      output: () => out,
      stop: async (graceMs = 3000) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          const r = await exited;
          clearTimeout(timer);
          return r;
        }
        return exited;
      },
    };
    this.children.add(handle);
    void exited.then(() => this.children.delete(handle));
    return handle;
  }

  /** Stops every process started here (and any other process left inside), then deletes the namespace. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([...this.children].map((c) => c.stop(1000)));
    this.killRemaining();
    tryCommand('ip', ['netns', 'del', this.name]);
    live.delete(this);
  }

  /** Synchronous best-effort cleanup for exit paths. */
  disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.children) c.child.kill('SIGKILL');
    this.killRemaining();
    tryCommand('ip', ['netns', 'del', this.name]);
    live.delete(this);
  }

  private killRemaining(): void {
    const pids = tryCommand('ip', ['netns', 'pids', this.name]).stdout.split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanAll = () => {
    for (const ns of [...live]) ns.disposeSync();
  };
  process.once('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanAll();
      process.exit(130);
    });
  }
}

/** `zt`, or ZTUN_TEST_NETNS_PREFIX (two lowercase letters): sessions sharing a machine keep apart by prefix. */
function netnsPrefix(): string {
  const p = process.env.ZTUN_TEST_NETNS_PREFIX;
  return p !== undefined && /^[a-z]{2}$/.test(p) ? p : 'zt';
}

/** Creates a fresh namespace with loopback up. `tag` (letters only, ≤ 4) says which test made it. */
export function createNetns(tag: string): Netns {
  installExitHook();
  const name = `${netnsPrefix()}${tag.slice(0, 4)}${process.pid.toString(36)}${(counter++).toString(36)}`;
  sh('ip', ['netns', 'add', name]);
  const ns = new Netns(name);
  live.add(ns);
  try {
    ns.ip('link', 'set', 'lo', 'up');
  } catch (err) {
    ns.disposeSync();
    throw err;
  }
  return ns;
}

export interface NetnsEnvironment {
  /** Namespace by role. */
  readonly ns: Record<string, Netns>;
  /** Connects two namespaces with a veth pair and addresses each end; returns the interface names. */
  link(
    a: string,
    b: string,
    opts: { addrA: string[]; addrB: string[]; mtu?: number },
  ): { ifA: string; ifB: string };
}

/**
 * Creates namespaces for `roles`, runs `fn`, and always removes them afterwards, even when `fn` throws.
 */
export async function withNetnsEnvironment<T>(
  tag: string,
  roles: readonly string[],
  fn: (env: NetnsEnvironment) => Promise<T>,
): Promise<T> {
  const ns: Record<string, Netns> = {};
  let links = 0;
  try {
    for (const role of roles) ns[role] = createNetns(tag);
    const env: NetnsEnvironment = {
      ns,
      link(a, b, opts) {
        const nsA = ns[a]!;
        const nsB = ns[b]!;
        const ifA = `v${links}${a.slice(0, 6)}`;
        const ifB = `v${links}${b.slice(0, 6)}`;
        links++;
        // Created inside A so the host namespace never holds the pair, then one end moves to B.
        nsA.ip('link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB);
        nsA.ip('link', 'set', ifB, 'netns', nsB.name);
        for (const [n, ifName, addrs] of [
          [nsA, ifA, opts.addrA],
          [nsB, ifB, opts.addrB],
        ] as const) {
          if (opts.mtu) n.ip('link', 'set', ifName, 'mtu', String(opts.mtu));
          for (const addr of addrs)
            n.ip('addr', 'add', addr, 'dev', ifName, ...(addr.includes(':') ? ['nodad'] : []));
          n.ip('link', 'set', ifName, 'up');
        }
        return { ifA, ifB };
      },
    };
    return await fn(env);
  } finally {
    await Promise.all(Object.values(ns).map((n) => n.dispose()));
  }
}

// setns(2) through koffi: lets a test open sockets and TUN devices inside a namespace from this process.
// The calling thread (the main JS thread) switches namespace for the duration of a synchronous `fn`.
let setnsFn: ((fd: number, nstype: number) => number) | undefined;
let openFn: ((path: string, flags: number) => number) | undefined;
let closeFn: ((fd: number) => number) | undefined;

function libc() {
  if (!setnsFn) {
    // The sonames @ztun/routing-linux's loadLinuxLibc tries, in its order; not imported from there because
    // routing-linux's tests depend on this package (a cycle).
    let lib: koffi.IKoffiLib;
    try {
      lib = koffi.load('libc.so.6');
    } catch {
      lib = koffi.load('libc.so');
    }
    setnsFn = lib.func('int setns(int fd, int nstype)');
    openFn = lib.func('int open(const char *path, int flags)');
    closeFn = lib.func('int close(int fd)');
  }
  return { setns: setnsFn!, open: openFn!, close: closeFn! };
}

/**
 * Runs synchronous `fn` with this thread inside namespace `ns`; sockets and TUN devices created during `fn`
 * stay in that namespace afterwards. The thread always returns to its original namespace.
 */
export function runInNetns<T>(ns: Netns | string, fn: () => T): T {
  const name = typeof ns === 'string' ? ns : ns.name;
  const c = libc();
  const O_RDONLY_CLOEXEC = 0o2000000;
  const self = c.open(`/proc/thread-self/ns/net`, O_RDONLY_CLOEXEC);
  if (self < 0) throw new Error('runInNetns: cannot open /proc/thread-self/ns/net');
  const target = c.open(`/run/netns/${name}`, O_RDONLY_CLOEXEC);
  if (target < 0) {
    c.close(self);
    throw new Error(`runInNetns: no namespace ${name}`);
  }
  try {
    if (c.setns(target, CLONE_NEWNET) !== 0) throw new Error(`runInNetns: setns(${name}) failed`);
    try {
      return fn();
    } finally {
      if (c.setns(self, CLONE_NEWNET) !== 0) {
        // Staying in the test namespace would silently point later work at the wrong network: stop here.
        console.error('runInNetns: could not return to the original namespace; exiting');
        process.exit(70);
      }
    }
  } finally {
    c.close(target);
    c.close(self);
  }
}

/**
 * Moves this thread into namespace `ns` until the returned function is called (in a `finally`): for tests
 * whose sockets are created asynchronously (listeners, connections) and must all live in `ns`. Every socket
 * created meanwhile lands there; ones created before stay where they were.
 */
export function enterNetns(ns: Netns | string): () => void {
  const name = typeof ns === 'string' ? ns : ns.name;
  const c = libc();
  const O_RDONLY_CLOEXEC = 0o2000000;
  const self = c.open('/proc/thread-self/ns/net', O_RDONLY_CLOEXEC);
  if (self < 0) throw new Error('enterNetns: cannot open /proc/thread-self/ns/net');
  const target = c.open(`/run/netns/${name}`, O_RDONLY_CLOEXEC);
  if (target < 0) {
    c.close(self);
    throw new Error(`enterNetns: no namespace ${name}`);
  }
  const ok = c.setns(target, CLONE_NEWNET) === 0;
  c.close(target);
  if (!ok) {
    c.close(self);
    throw new Error(`enterNetns: setns(${name}) failed`);
  }
  let left = false;
  return () => {
    if (left) return;
    left = true;
    const back = c.setns(self, CLONE_NEWNET) === 0;
    c.close(self);
    if (!back) {
      console.error('enterNetns: could not return to the original namespace; exiting');
      process.exit(70);
    }
  };
}
