import type { RunConfig } from '../src/config.js';
import { buildPlan, formatPlan } from '../src/platform/plan.linux.js';
import type { Platform, TunnelContext } from '../src/platform/types.js';
import { lifecycleTunnel } from '../src/tunnel/lifecycle.js';
import { EMPTY_STATS } from '../src/tunnel/types.js';

const tags = { routeProtocol: 188, rulePriorityMin: 9000, rulePriorityMax: 9099 };

export interface FakeRun {
  readonly config: RunConfig;
  readonly ctx: TunnelContext;
  teardowns: number;
}

/**
 * A platform whose tunnels start at once and stop by themselves right after ready (so `ztun run` returns
 * without a signal), recording each run's config and context.
 */
export function fakePlatform(): Platform & { runs: FakeRun[]; cleanups: number } {
  const p = {
    os: 'fake',
    runs: [] as FakeRun[],
    cleanups: 0,
    // The Linux plan with tags of its own, so the text cannot pass by accident with ztun's.
    dryRun: async (config: RunConfig, proxyAddresses: readonly string[]) =>
      formatPlan(config, buildPlan(config, proxyAddresses, tags)),
    createTunnel(config: RunConfig, ctx: TunnelContext) {
      const run: FakeRun = { config, ctx, teardowns: 0 };
      p.runs.push(run);
      const tunnel = lifecycleTunnel(
        {
          async start() {
            setImmediate(() => void tunnel.close('fake tunnel finished'));
            return {
              info: {
                name: config.name,
                index: 7,
                mtu: config.mtu,
                addresses: ['198.18.0.1/15'],
                routes: 0,
                changes: 0,
                crashBehaviour: 'fake',
              },
              stats: () => EMPTY_STATS,
            };
          },
          async teardown() {
            run.teardowns++;
            return true;
          },
        },
        ctx.log,
      );
      return tunnel;
    },
    cleanup: async () => {
      p.cleanups++;
      return 0;
    },
  };
  return p;
}
