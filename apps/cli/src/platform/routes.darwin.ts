// Applies the macOS plan's route steps through @ztun/routing-darwin's RouteClient, remembers exactly what
// it added (so teardown removes that and nothing else), and follows the physical default when it moves.

import {
  type RouteClient,
  RouteExistsError,
  RouteNotFoundError,
  type RouteSpec,
  type ScopedDefaultSpec,
} from '@ztun/routing-darwin';
import type { Family } from '../cidr.js';
import type { Logger } from '../log.js';
import type { DarwinRouteHost } from './host.darwin.js';
import { type DarwinEgress, type DarwinRouteStep, describeDarwinStep } from './plan.darwin.js';
import { RunRefused } from './types.js';

type Applied =
  | { step: DarwinRouteStep & { kind: 'scoped-default' }; spec: ScopedDefaultSpec; created: boolean }
  | { step: DarwinRouteStep & { kind: 'bypass' | 'tunnel' }; spec: RouteSpec };

/**
 * Removes what a killed run left: every RTF_PROTO1-tagged scoped default, then every tagged unscoped route
 * (bypasses; routes into a utun went with it). Returns how many of each were deleted.
 */
export async function flushTagged(client: RouteClient): Promise<{ scoped: number; routes: number }> {
  const scoped = await client.flushScopedDefaults();
  let routes = 0;
  for (const e of await client.listRoutes()) {
    if (!e.tagged || e.scoped) continue;
    const via =
      e.gateway.kind === 'address'
        ? { gateway: e.gateway.scopeId ? `${e.gateway.address}%${e.gateway.scopeId}` : e.gateway.address }
        : { interfaceIndex: e.gateway.kind === 'link' ? e.gateway.index : e.interfaceIndex };
    try {
      await client.deleteRoute({ destination: e.destination, ...via, tag: true });
      routes++;
    } catch (err) {
      if (!(err instanceof RouteNotFoundError)) throw err;
    }
  }
  return { scoped, routes };
}

/** The unscoped default of `family` (RTM_GET 0.0.0.0/0 or ::/0), unless it already points into `notIndex`. */
export async function findEgress(
  client: RouteClient,
  family: Family,
  notIndex = -1,
): Promise<DarwinEgress | undefined> {
  const entry = await client.getRoute(family === 4 ? '0.0.0.0/0' : '::/0');
  if (!entry || entry.scoped || entry.interfaceIndex === 0 || entry.interfaceIndex === notIndex)
    return undefined;
  const gateway = entry.gateway.kind === 'address' ? entry.gateway.address : undefined;
  return {
    family,
    interfaceIndex: entry.interfaceIndex,
    interfaceName: entry.interfaceName ?? `#${entry.interfaceIndex}`,
    ...(gateway ? { gateway } : {}),
  };
}

const sameEgress = (a: DarwinEgress | undefined, b: DarwinEgress | undefined) =>
  a?.interfaceIndex === b?.interfaceIndex && a?.gateway === b?.gateway;

export class DarwinRouting {
  private readonly applied: Applied[] = [];

  constructor(
    private readonly client: RouteClient,
    readonly routes: DarwinRouteHost,
    private readonly utun: { name: string; index: number },
    readonly egress: Map<Family, DarwinEgress>,
    private readonly log: Logger,
  ) {}

  get count(): number {
    return this.applied.length;
  }

  private text(step: DarwinRouteStep, direction: 'apply' | 'undo'): string {
    return describeDarwinStep(step, direction, {
      utun: this.utun.name,
      egress: this.egress.get(step.family),
    });
  }

  private scopedSpec(e: DarwinEgress): ScopedDefaultSpec {
    return {
      family: e.family === 4 ? 'inet' : 'inet6',
      interfaceIndex: e.interfaceIndex,
      interfaceName: e.interfaceName,
      ...(e.gateway ? { gateway: e.gateway } : {}),
    };
  }

  private bypassSpec(cidr: string, e: DarwinEgress): RouteSpec {
    // The index goes along with a gateway too: an IPv6 default's next hop is usually link-local (fe80::1),
    // which needs the interface as its scope (RouteClient puts it in sin6_scope_id).
    return {
      destination: cidr,
      tag: true,
      interfaceIndex: e.interfaceIndex,
      ...(e.gateway ? { gateway: e.gateway } : {}),
    };
  }

  /** Adds one step; an EEXIST on a prefix is a foreign route: one line, and the caller undoes the rest. */
  async apply(step: DarwinRouteStep): Promise<void> {
    const e = this.egress.get(step.family);
    if (step.kind !== 'tunnel' && !e) return; // no default of this family: nothing to pin or bypass to
    this.log.debug(this.text(step, 'apply'));
    try {
      if (step.kind === 'scoped-default') {
        const spec = this.scopedSpec(e!);
        const { created } = await this.client.addScopedDefault(spec);
        // EEXIST: macOS's own scoped default for that interface already gives bound sockets their way out.
        if (!created)
          this.log.debug(
            `IPv${step.family} scoped default on ${e!.interfaceName} exists already (macOS's own): reused`,
          );
        this.applied.push({ step, spec, created });
        return;
      }
      const spec =
        step.kind === 'bypass'
          ? this.bypassSpec(step.cidr, e!)
          : {
              destination: step.cidr,
              interfaceIndex: this.utun.index,
              interfaceName: this.utun.name,
              tag: true,
            };
      await this.client.addRoute(spec);
      this.applied.push({ step, spec });
    } catch (err) {
      if (err instanceof RouteExistsError && step.kind !== 'scoped-default') {
        throw new RunRefused(
          `a route for ${step.cidr} already exists and is not ztun's (EEXIST; another VPN?): ztun leaves it alone and stops`,
        );
      }
      throw err;
    }
  }

  /** Removes what apply added, in reverse. ESRCH counts as gone (xnu purged routes through a detached utun). */
  async undo(): Promise<string[]> {
    const failures: string[] = [];
    while (this.applied.length > 0) {
      const a = this.applied.pop()!;
      if (a.step.kind === 'scoped-default' && !('created' in a && a.created)) continue;
      this.log.debug(this.text(a.step, 'undo'));
      try {
        if (a.step.kind === 'scoped-default')
          await this.client.deleteScopedDefault(a.spec as ScopedDefaultSpec);
        else await this.client.deleteRoute(a.spec as RouteSpec);
      } catch (err) {
        if (err instanceof RouteNotFoundError) continue;
        failures.push(`could not undo '${this.text(a.step, 'undo')}': ${(err as Error).message}`);
      }
    }
    return failures;
  }

  /**
   * The unscoped default of a family moved (another interface or gateway): scoped default on the new egress
   * first (bound sockets never lose their way out), then the old one removed, bypass routes moved. Returns
   * the families that moved.
   */
  async follow(now: Map<Family, DarwinEgress>): Promise<Family[]> {
    const moved: Family[] = [];
    for (const family of [4, 6] as const) {
      const before = this.egress.get(family);
      const after = now.get(family);
      if (!after || sameEgress(before, after)) continue;
      moved.push(family);
      this.egress.set(family, after);
      for (const a of this.applied) {
        if (a.step.family !== family || a.step.kind === 'tunnel') continue;
        if (a.step.kind === 'scoped-default' && 'created' in a) {
          const old = a.spec;
          const { created } = await this.client.addScopedDefault(this.scopedSpec(after));
          if (a.created)
            await this.client
              .deleteScopedDefault(old)
              .catch((err) => this.log.warn(`re-pin: ${(err as Error).message}`));
          a.spec = this.scopedSpec(after);
          a.created = created;
        } else if (a.step.kind === 'bypass') {
          await this.client.deleteRoute(a.spec as RouteSpec).catch(() => {});
          const spec = this.bypassSpec(a.step.cidr, after);
          await this.client.addRoute(spec);
          a.spec = spec;
        }
      }
    }
    return moved;
  }
}
