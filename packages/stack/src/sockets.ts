import type { Pinning, StackSockets } from '@ztun/packet';

// The stack's socket options come from an injected StackSockets (the contract is in @ztun/packet): an OS
// package implements it (@ztun/tun-linux `linuxSockets`, @ztun/tun-darwin `loadDarwinSockets()`). Without one the
// stack uses `portableSockets`: Node's API only, so no pinning and no SO_LINGER/SO_ERROR.

/** Pinning was asked of a StackSockets that cannot pin (the portable default). */
export class PinningUnsupportedError extends Error {
  override readonly name = 'PinningUnsupportedError';
}

/** Pinning that needs a socket made by the OS implementation (an fd); sourceAddress needs none. */
export function hasPinning(p: Pinning): boolean {
  return p.mark !== undefined || p.bindToDevice !== undefined || p.boundInterfaceIndex !== undefined;
}

/**
 * The address to bind a socket of `family` to (Pinning.sourceAddress, Windows), undefined when there is no
 * such pinning. Throws when sourceAddress is given without this family: unbound, the socket would follow the
 * tunnel's routes.
 */
export function sourceAddressFor(p: Pinning, family: 4 | 6): string | undefined {
  if (!p.sourceAddress) return undefined;
  const address = family === 4 ? p.sourceAddress.v4 : p.sourceAddress.v6;
  if (address === undefined) {
    throw new PinningUnsupportedError(
      `no IPv${family} source address outside the tunnel to send from (the physical interface has none)`,
    );
  }
  return address;
}

function unsupported(what: string): PinningUnsupportedError {
  return new PinningUnsupportedError(
    `${what} needs an OS socket implementation: pass \`sockets\` (linuxSockets from @ztun/tun-linux, loadDarwinSockets() from @ztun/tun-darwin)`,
  );
}

function describePinning(p: Pinning): string {
  const parts: string[] = [];
  if (p.mark !== undefined) parts.push(`mark=${p.mark}`);
  if (p.bindToDevice !== undefined) parts.push(`bindToDevice=${p.bindToDevice}`);
  if (p.boundInterfaceIndex !== undefined) parts.push(`boundInterfaceIndex=${p.boundInterfaceIndex}`);
  return parts.join(', ');
}

/**
 * Node's API only. Pinning throws PinningUnsupportedError (it never makes an fd, so it has none to close,
 * bind or clear); a reset falls back to Node's own (see tcp-reset.ts), and a RST that libuv reported as an
 * end cannot be told from a FIN.
 */
export const portableSockets: StackSockets = {
  name: 'portable',
  createPinnedSocket(_family, _kind, pin) {
    throw unsupported(`socket pinning (${describePinning(pin)})`);
  },
  closeFd() {
    throw unsupported('closing a raw socket fd');
  },
  bindEphemeral() {
    throw unsupported('binding a raw socket fd');
  },
  clearReuse: () => false,
  setLingerZero: () => false,
  takeSocketError: () => -1,
};
