import { Socket } from 'node:net';
import { loadAddon } from './addon.linux.js';
import { errnoName } from './errors.js';
import { internalsMismatch, restartRefusal, tcpHandle } from './node-socket-internals.js';
import { RelayPair, running } from './splice-pair.linux.js';

/** The native SpliceRelay class (native/splice_relay.cc). */
export interface NativeSpliceRelay {
  /**
   * Hands two socket fds to the relay thread (it uses them as they are: they must stay open until the pair's
   * report); returns the pair's id. Throws (errno EMFILE…) while the relay is out of pipes.
   */
  add(fdA: number, fdB: number, pipeSize: number): number;
  cancel(id: number): void;
  totals(): [number, number];
  /** [idle pipes, busy pipes, pipes created, max idle, errno while out of pipes else 0, pairs running] */
  stats(): [number, number, number, number, number, number];
  close(): void;
}

export type NativeSpliceRelayClass = new (
  onDone: (
    id: number,
    reason: number,
    side: number,
    errno: number,
    bytesAtoB: number,
    bytesBtoA: number,
  ) => void,
  maxIdlePipes?: number,
) => NativeSpliceRelay;

export interface SpliceRelayResult {
  /** Bytes moved from socket A to socket B (including any bytes Node had buffered before the hand-over). */
  bytesAtoB: number;
  bytesBtoA: number;
  /**
   * `eof`: both directions ended with a FIN, passed on to the other side (both sockets are destroyed, gracefully).
   * `error`: a socket failed (`side`, `code`): it is destroyed and the other socket is reset.
   * `cancelled`: `cancel()` / a socket destroyed by someone else: the sockets still open are reset.
   * `fallback`: the relay could not take the pair (`cause`): the sockets were `pipe()`d both ways instead
   * and are the caller's again, as with a plain `pipe()` (counts are the bytes Node had buffered at the
   * hand-over, already written across).
   */
  reason: 'eof' | 'error' | 'cancelled' | 'fallback';
  /**
   * Why a `fallback`: `relay-refused` (the relay is out of pipes, e.g. `EMFILE`: see `code`), or
   * `node-internals` (this Node's net.Socket internals are not what the hand-over relies on: see `detail`;
   * src/node-socket-internals.ts has the contract).
   */
  cause?: 'relay-refused' | 'node-internals';
  detail?: string;
  side?: 'a' | 'b';
  /** e.g. `ECONNRESET`, `EPIPE` (reason `error`). */
  code?: string;
  errno?: number;
}

export interface SpliceRelayOptions {
  /**
   * Bytes per new pipe (a direction holds one only while bytes are in it); the kernel rounds up to pages and
   * may refuse (then 64 KiB). Pipes are reused across pairs, so this sizes the pipes the pair creates.
   */
  pipeSize?: number;
  /** Aborting cancels the relay (reason `cancelled`). */
  signal?: AbortSignal;
  /**
   * Called once with the result (as `done` resolves). A callback made once and shared by many pairs costs
   * nothing per pair; `done` makes a promise only when read.
   */
  onDone?: (result: SpliceRelayResult) => void;
  /**
   * On a `fallback`, carries the pair through Node streams instead of the relay's plain `a.pipe(b)`,
   * `b.pipe(a)` (e.g. the stack handler's own piping, with its half-close and reset handling). Reading has
   * been restarted on both sockets when it is called.
   */
  onFallback?: (a: Socket, b: Socket) => void;
}

/** A pair handed to the relay: `cancel()` stops it; `done` settles once the sockets are dealt with. */
export interface SplicedPair {
  readonly done: Promise<SpliceRelayResult>;
  cancel(): void;
}

const DEFAULT_PIPE_SIZE = 256 * 1024;

let relay: NativeSpliceRelay | undefined;

function nativeRelay(): NativeSpliceRelay {
  if (!relay) {
    const Relay = (loadAddon() as unknown as { SpliceRelay?: NativeSpliceRelayClass }).SpliceRelay;
    if (!Relay) throw new Error('the ztun_tun addon has no SpliceRelay: rebuild it (node-gyp rebuild)');
    relay = new Relay(onDone);
  }
  return relay;
}

/** True on Linux when the addon (with its splice relay) loads. */
export function spliceRelaySupported(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    nativeRelay();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `socket` can be handed to the relay now: a connected TCP `net.Socket` (not TLS), open both ways,
 * that has not seen an end from its peer yet. (Anything else stays with stream piping.) TCP-ness comes from the
 * handle's class (no system call); only when that is unknown from `remoteFamily` (getpeername(2)). The Node
 * internals the hand-over needs are checked by spliceRelay itself.
 */
export function canSplice(socket: unknown): socket is Socket {
  if (!(socket instanceof Socket)) return false;
  const tcp = tcpHandle(socket);
  return (
    (tcp ?? (socket.remoteFamily === 'IPv4' || socket.remoteFamily === 'IPv6')) &&
    (socket as { encrypted?: boolean }).encrypted !== true &&
    !socket.destroyed &&
    !socket.connecting &&
    !socket.readableEnded &&
    !socket.writableEnded
  );
}

const warned = new Set<string>();

/** One warning per process and reason (code ZTUN_SPLICE_NODE_INTERNALS): Node's internals drifted. */
function warnInternals(what: string): void {
  if (warned.has(what)) return;
  warned.add(what);
  process.emitWarning(
    `splice relay: Node ${process.version} does not match what the socket hand-over relies on ` +
      `(src/node-socket-internals.ts): ${what}`,
    { code: 'ZTUN_SPLICE_NODE_INTERNALS' },
  );
}

/**
 * The relay's state. A direction holds a pipe only while bytes are in it (`busyPipes`); up to `maxIdlePipes`
 * are kept for reuse. An idle pair costs no fd beyond its two sockets.
 */
export interface SpliceRelayStats {
  /** Pairs the relay thread runs now. */
  pairs: number;
  idlePipes: number;
  busyPipes: number;
  /** Pipes created since the relay started (reuse keeps this low). */
  pipesCreated: number;
  maxIdlePipes: number;
  /** Directions are waiting for a pipe (pipe2 failed with this errno): new pairs fall back to Node streams. */
  outOfPipes?: string;
}

export function spliceRelayStats(): SpliceRelayStats {
  if (!relay) return { pairs: 0, idlePipes: 0, busyPipes: 0, pipesCreated: 0, maxIdlePipes: 0 };
  const [idlePipes, busyPipes, pipesCreated, maxIdlePipes, starved, pairs] = relay.stats();
  return {
    pairs,
    idlePipes,
    busyPipes,
    pipesCreated,
    maxIdlePipes,
    ...(starved ? { outOfPipes: errnoName(starved) } : {}),
  };
}

/**
 * Bytes the relay thread moved so far, each way, over every pair (running ones included). Bytes Node wrote
 * itself at a hand-over are not in here: they show in the sockets' own `bytesWritten`.
 */
export function spliceRelayTotals(): { bytesAtoB: number; bytesBtoA: number } {
  if (!relay) return { bytesAtoB: 0, bytesBtoA: 0 };
  const [ab, ba] = relay.totals();
  return { bytesAtoB: ab, bytesBtoA: ba };
}

/**
 * Relays bytes between two connected TCP sockets with splice(2) on the relay thread: the payload never enters
 * JS. Node stops reading both sockets first; bytes Node had already buffered are written across before the
 * hand-over. Half-closes pass through (an end from A becomes a FIN towards B after the bytes before it). When
 * the pair finishes both sockets are destroyed as `SpliceRelayResult.reason` describes. Throws (before touching
 * the sockets) when either cannot be spliced — check `canSplice` first.
 */
export function spliceRelay(a: Socket, b: Socket, options: SpliceRelayOptions = {}): SplicedPair {
  if (!canSplice(a) || !canSplice(b))
    throw new TypeError('spliceRelay: both sockets must be open, connected TCP sockets');
  const native = nativeRelay();
  const pair = new RelayPair(
    native,
    a,
    b,
    options.pipeSize ?? DEFAULT_PIPE_SIZE,
    options.signal,
    options.onDone,
    options.onFallback,
  );
  const mismatch = internalsMismatch(a) ?? internalsMismatch(b);
  if (mismatch) {
    // Nothing was touched yet: the sockets go on through Node streams.
    warnInternals(`${mismatch}; relaying through Node streams instead`);
    pair.fallBack();
    pair.settle({
      bytesAtoB: 0,
      bytesBtoA: 0,
      reason: 'fallback',
      cause: 'node-internals',
      detail: mismatch,
    });
    return pair;
  }
  pair.start(refuseRestart);
  return pair;
}

/** The `readStart` of every handed-over handle: refuses, warns once (shared by all pairs). */
const refuseRestart = restartRefusal(() =>
  warnInternals('Node tried to restart reading a handed-over socket; refused, the relay keeps every byte'),
);

function onDone(
  id: number,
  reason: number,
  side: number,
  errno: number,
  bytesAtoB: number,
  bytesBtoA: number,
) {
  running.get(id)?.report(reason, side, errno, bytesAtoB, bytesBtoA);
}
