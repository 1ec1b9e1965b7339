// One process as the simulated XNU sees it: its route sockets and sysctl dumps (the RouteSystem seam of
// @ztun/routing-darwin, structurally), if_nametoindex, the utun devices it opened (kern_control connect
// with sc_unit 0: the first free utunN), and an flock-style lock. kill() is SIGKILL: every descriptor
// closes at once, so its utun interfaces detach and take their routes with them — and nothing else.

import type { SimulatedXnu } from './kernel.js';
import type { XnuRouteSocket } from './route-socket.js';
import { type UtunFdLike, type UtunKernelSide, utunDatagramPair } from './utun.js';
import { utunSyscalls } from './utun-syscalls.js';

export interface XnuUtun {
  readonly name: string;
  readonly index: number;
  /** The device end (give it to @ztun/tun-darwin's UtunDevice). */
  readonly fd: UtunFdLike;
  readonly kernel: UtunKernelSide;
}

export class XnuProcess {
  private readonly openSockets = new Set<XnuRouteSocket>();
  private readonly utuns = new Set<XnuUtun>();
  private dead = false;

  constructor(
    readonly kernel: SimulatedXnu,
    readonly pid: number,
    readonly root: boolean,
  ) {
    if (root) kernel.rootPids.add(pid);
  }

  async openRouteSocket(): Promise<XnuRouteSocket> {
    if (this.dead) throw new Error(`simulated xnu: process ${this.pid} is dead`);
    const s = this.kernel.openSocket(this.pid);
    this.openSockets.add(s);
    return s;
  }

  async dumpRoutes(family: number): Promise<Uint8Array> {
    return this.kernel.dump(family);
  }

  /** if_nametoindex(3): 0 for an unknown name. */
  interfaceIndex(name: string): number {
    return this.kernel.indexOf(name) ?? 0;
  }

  /**
   * The UtunSyscalls seam of @ztun/tun-darwin for this process (give it to `openUtunWith`): kern_control and
   * the interface ioctls, decoded from xnu's layouts (utun-syscalls.ts). One datagram pair is prepared for
   * the utun it will open; `onOpen` gets that utun's kernel side (to carry its packets somewhere).
   */
  async utunSyscalls(onOpen: (utun: XnuUtun) => void = () => {}): Promise<ReturnType<typeof utunSyscalls>> {
    if (this.dead) throw new Error(`simulated xnu: process ${this.pid} is dead`);
    let closeHook = () => {};
    const pair = await utunDatagramPair(() => closeHook());
    const kernel = this.kernel;
    return utunSyscalls({
      root: this.root,
      create: (name) => kernel.addInterface(name, { owner: this.pid, flags: 0x8010 }), // POINTOPOINT|MULTICAST, down
      indexOf: (name) => kernel.indexOf(name),
      setMtu: (index, mtu) => {
        kernel.interfaces.get(index)!.mtu = mtu;
      },
      flags: (index) => kernel.interfaces.get(index)!.flags,
      setFlags: (index, flags) => {
        const i = kernel.interfaces.get(index)!;
        i.flags = flags;
        i.up = (flags & 1) !== 0;
      },
      addAddress: (index, cidr) => kernel.addAddress(index, cidr),
      detach: (index) => {
        if (kernel.interfaces.has(index)) kernel.detachInterface(index);
      },
      takePair: () => ({ ...pair, onClose: (fn) => (closeHook = fn) }),
      opened: (utun) => {
        this.utuns.add(utun);
        onOpen(utun);
      },
    });
  }

  /** Takes the lock if free (flock LOCK_EX|LOCK_NB), else says who holds it. */
  lock(): { release(): void } | { heldBy: { pid: number | undefined } } {
    if (this.kernel.lockHolder !== undefined && this.kernel.lockHolder !== this.pid)
      return { heldBy: { pid: this.kernel.lockHolder } };
    this.kernel.lockHolder = this.pid;
    return {
      release: () => {
        if (this.kernel.lockHolder === this.pid) this.kernel.lockHolder = undefined;
      },
    };
  }

  /** SIGKILL: descriptors close, utuns detach (with their routes), the lock is dropped. */
  async kill(): Promise<void> {
    this.dead = true;
    for (const s of this.openSockets) s.close();
    await Promise.all([...this.utuns].map((u) => u.fd.close()));
    if (this.kernel.lockHolder === this.pid) this.kernel.lockHolder = undefined;
  }

  get alive(): boolean {
    return !this.dead;
  }
}
