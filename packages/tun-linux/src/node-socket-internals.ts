import net from 'node:net';

/**
 * The one place that touches Node's private `net.Socket` internals, for the splice relay's hand-over (Node
 * must stop reading a socket for good before the relay thread reads its fd). Nothing else in ztun does.
 *
 * Contract — what Node 20, 22 and 24 do (lib/net.js, lib/internal/stream_base_commons.js), checked on each
 * major by test/node-majors.test.ts:
 * - `socket._handle` is the TCPWrap: `fd` is its file descriptor, `readStart()` / `readStop()` start and
 *   stop libuv reading and return 0 or a negative errno.
 * - `_handle.reading` is net.Socket's "reading started" flag: `Socket.prototype._read` calls readStart only
 *   while it is falsy; `pause()` calls readStop only while it is truthy; `onStreamRead` clears it when the
 *   stream is full.
 * - The stream restarts reading only through `_read` (a socket built with the `onread` option, net.js's
 *   kBuffer, reads differently and is refused).
 * - Node closes the fd only in `_destroy` (net.Socket's own, reached from destroy(), resetAndDestroy() and
 *   every error path through lib/internal/streams/destroy.js `self._destroy(err, cb)`), and 'close' is
 *   emitted only after its callback. So an own `_destroy` that waits keeps the fd open (holdFd below).
 *
 * `internalsMismatch()` checks that shape on a live socket before anything is touched; the splice relay
 * falls back to copying through Node streams when it does not hold. After the hand-over, a shared `readStart`
 * on the handle refuses any attempt to restart reading (the relay owns the bytes now) and reports it through
 * `onRestartAttempt`: a Node whose internals drifted cannot interleave reads with the relay unnoticed.
 */

interface TcpHandle {
  fd?: unknown;
  reading?: unknown;
  readStart?: unknown;
  readStop?: unknown;
}

type SocketWithInternals = net.Socket & {
  _handle?: TcpHandle | null;
  _readableState?: unknown;
  _read?: unknown;
};

type DestroyFn = (this: net.Socket, err: Error | null, cb: (err?: Error | null) => void) => void;

const socketRead = (net.Socket.prototype as unknown as { _read?: unknown })._read;
const socketDestroy = (net.Socket.prototype as unknown as { _destroy?: DestroyFn })._destroy;

/** Node's kBuffer symbol (set in every net.Socket's constructor), found once; null when this Node has none. */
let kBuffer: symbol | null | undefined;

/** Why `socket`'s internals are not the contract above, or undefined when they are. */
export function internalsMismatch(socket: net.Socket): string | undefined {
  const s = socket as SocketWithInternals;
  if (typeof socketRead !== 'function') return 'net.Socket.prototype._read is not a function';
  const handle = s._handle;
  if (!handle || typeof handle !== 'object') return 'socket._handle is missing';
  if (typeof handle.fd !== 'number' || handle.fd < 0) return 'socket._handle.fd is not a file descriptor';
  if (typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function')
    return 'socket._handle has no readStart/readStop';
  if (handle.reading !== undefined && typeof handle.reading !== 'boolean')
    return 'socket._handle.reading is not a boolean';
  if (s._read !== socketRead) return "socket._read is not net.Socket's own";
  if (typeof socketDestroy !== 'function') return 'net.Socket.prototype._destroy is not a function';
  if ((s as { _destroy?: unknown })._destroy !== socketDestroy)
    return "socket._destroy is not net.Socket's own";
  if (!s._readableState || typeof s._readableState !== 'object') return 'socket._readableState is missing';
  if (kBuffer === undefined)
    kBuffer = Object.getOwnPropertySymbols(s).find((sym) => sym.description === 'kBuffer') ?? null;
  if (kBuffer && (s as unknown as Record<symbol, unknown>)[kBuffer] != null)
    return 'the socket reads into its own buffer (onread)';
  return undefined;
}

/**
 * Whether the socket's handle is libuv TCP (`TCPWrap`, named `TCP` in JS) — true —, another handle (`Pipe`:
 * a Unix socket) — false —, or unknown (no handle, or a Node whose class names differ): undefined. Asked
 * instead of `remoteFamily`, which calls getpeername(2) for a socket that never asked before (the outbound
 * one): one system call less per connection (issue 17 item 6).
 */
export function tcpHandle(socket: net.Socket): boolean | undefined {
  const name = (socket as SocketWithInternals)._handle?.constructor?.name;
  return name === 'TCP' ? true : name === 'Pipe' ? false : undefined;
}

/** The socket's fd (a connected TCP socket's), or -1. Only after internalsMismatch() said nothing. */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as SocketWithInternals)._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/**
 * A `readStart` for handed-over handles that refuses (returns 0 without reading) and calls
 * `onRestartAttempt`. Made once and shared by every handle (no closure per connection: issue 17 item 2).
 */
export function restartRefusal(onRestartAttempt: () => void): () => number {
  return () => {
    onRestartAttempt();
    return 0;
  };
}

/** The stream's `_read` while the relay owns the bytes: shared, does nothing. */
function noRead(): void {}

/**
 * Stops Node reading `socket` for good: pause(), the handle's readStop(), the flag cleared, `_read` made a
 * no-op so the stream cannot restart it, and `refusal` (from restartRefusal) as the handle's `readStart`.
 */
export function stopReading(socket: net.Socket, refusal: () => number): void {
  const s = socket as SocketWithInternals;
  socket.pause();
  s._read = noRead;
  const handle = s._handle as TcpHandle;
  handle.reading = false;
  (handle.readStop as () => number).call(handle); // uv_read_stop: 0 for a TCP handle
  handle.readStart = refusal;
}

/** Undoes stopReading: Node reads the socket again (the relay's fallback hands it back to streams). */
export function resumeReading(socket: net.Socket): void {
  const s = socket as SocketWithInternals;
  delete (s as { _read?: unknown })._read; // net.Socket's own again
  const handle = s._handle;
  if (!handle) return;
  delete handle.readStart;
  // The stream may still count a _read as pending (then it would not call _read itself): start the handle.
  if (!handle.reading && typeof handle.readStart === 'function') {
    handle.reading = true;
    (handle.readStart as () => number).call(handle);
  }
}

/** Who holds a socket's fd (holdFd): told when someone destroys the socket meanwhile. */
export interface FdHolder {
  /**
   * `socket` was destroyed (by anyone) while held: its fd stays open and 'close' waits until the holder
   * calls `proceed()` (after releaseFd, or at once to let the destroy through).
   */
  destroyWhileHeld(socket: net.Socket, proceed: () => void): void;
}

const kHolder = Symbol('ztun.fdHolder');
type HeldSocket = net.Socket & { [kHolder]?: FdHolder; _destroy?: DestroyFn };

/** The `_destroy` of every held socket (shared: no closure per connection). */
function heldDestroy(this: HeldSocket, err: Error | null, cb: (err?: Error | null) => void): void {
  const holder = this[kHolder];
  if (holder) holder.destroyWhileHeld(this, () => (socketDestroy as DestroyFn).call(this, err, cb));
  else (socketDestroy as DestroyFn).call(this, err, cb);
}

/**
 * Keeps Node from closing `socket`'s fd while the relay thread uses it (the relay works on Node's own fd, not
 * a dup: issue 17 item 1). A destroy from anyone (the stack closing, an error) is held back: the holder's
 * `destroyWhileHeld` gets it, and the socket's real `_destroy` (which closes the fd, then 'close') runs only
 * when the holder lets it proceed. One shared `_destroy` and one property per socket (issue 17 item 2).
 */
export function holdFd(socket: net.Socket, holder: FdHolder): void {
  const s = socket as HeldSocket;
  s[kHolder] = holder;
  s._destroy = heldDestroy;
}

/** Ends holdFd: later destroys go straight to net.Socket's own `_destroy`. Idempotent. */
export function releaseFd(socket: net.Socket): void {
  const s = socket as HeldSocket;
  if (s[kHolder]) s[kHolder] = undefined;
}
