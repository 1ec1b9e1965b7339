// One process as the simulated XNU sees it: its route sockets and sysctl dumps (the RouteSystem seam of
// @ztun/routing-darwin, structurally), if_nametoindex, the utun devices it opened (kern_control connect
// with sc_unit 0: the first free utunN), and an flock-style lock. kill() is SIGKILL: every descriptor
// closes at once, so its utun interfaces detach and take their routes with them — and nothing else.

import type { SimulatedXnu } from './kernel.js';
import type { XnuRouteSocket } from './route-socket.js';
import { type UtunFdLike, type UtunKernelSide, utunDatagramPair } from './utun.js';

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
   * socket(PF_SYSTEM) + connect(sc_unit) as if_utun.c does it: `unit` N asks for utunN (EBUSY when taken),
   * none takes the first free unit. Root only (CTL_FLAG_PRIVILEGED: EPERM).
   */
  async openUtun(o: { unit?: number; mtu: number; addresses: readonly string[] }): Promise<XnuUtun> {
    if (!this.root) throw Object.assign(new Error('connect(utun): EPERM'), { errno: 1 });
    let unit = o.unit ?? 0;
    if (o.unit === undefined) while (this.kernel.indexOf(`utun${unit}`) !== undefined) unit++;
    else if (this.kernel.indexOf(`utun${unit}`) !== undefined)
      throw Object.assign(new Error(`connect(utun${unit}): EBUSY`), { errno: 16 });
    const name = `utun${unit}`;
    const index = this.kernel.addInterface(name, { owner: this.pid, mtu: o.mtu });
    for (const a of o.addresses) this.kernel.addAddress(index, a);
    let utun: XnuUtun | undefined;
    const pair = await utunDatagramPair(() => {
      if (utun) this.utuns.delete(utun);
      this.kernel.detachInterface(index); // closing the utun socket removes the interface (if_utun.c)
    });
    utun = { name, index, ...pair };
    this.utuns.add(utun);
    return utun;
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
