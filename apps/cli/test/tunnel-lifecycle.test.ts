import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { RunRefused } from '../src/platform/types.js';
import { unsupportedPlatform } from '../src/platform/unsupported.js';
import { runTunnel } from '../src/run.js';
import { createTunnel } from '../src/tunnel/create.js';
import { lifecycleTunnel, type TunnelSteps } from '../src/tunnel/lifecycle.js';
import { EMPTY_STATS, TunnelStartAborted } from '../src/tunnel/types.js';
import { fakePlatform } from './fake-platform.js';

const lines: string[] = [];
const log: Logger = {
  error: (m) => lines.push(`error: ${m}`),
  warn: (m) => lines.push(`warn: ${m}`),
  info: (m) => lines.push(m),
  debug: () => {},
};

const info = {
  name: 'zt0',
  index: 3,
  mtu: 1500,
  addresses: ['198.18.0.1/15'],
  routes: 1,
  changes: 4,
  crashBehaviour: 'fail-open',
};

/** Steps that record what happened; start waits on `gate` between its two "changes". */
function recorder(opts: { failAt?: 1 | 2; gate?: Promise<void> } = {}) {
  const events: string[] = [];
  let applied = 0;
  const steps: TunnelSteps = {
    async start(signal) {
      applied++;
      events.push('apply 1');
      if (opts.failAt === 1) throw new RunRefused('refused at 1');
      await opts.gate;
      if (signal.aborted) throw new Error('aborted');
      applied++;
      events.push('apply 2');
      if (opts.failAt === 2) throw new Error('EEXIST at 2');
      return { info, stats: () => ({ ...EMPTY_STATS, bytesOut: 42 }) };
    },
    async teardown(reason, ready) {
      events.push(`teardown ${reason} ready=${ready} undo ${applied}`);
      return true;
    },
  };
  return { steps, events };
}

describe('lifecycleTunnel', () => {
  it('ready → stats → close undoes once; close is idempotent and carries the final stats', async () => {
    const { steps, events } = recorder();
    const t = lifecycleTunnel(steps, log);
    expect(await t.ready).toEqual(info);
    expect(t.stats().bytesOut).toBe(42);
    const [a, b] = await Promise.all([t.close('SIGTERM'), t.close('again')]);
    expect(a).toBe(await t.close());
    expect(a.clean).toBe(true);
    expect(a.stats?.bytesOut).toBe(42);
    expect(b).toBe(a);
    expect(events).toEqual(['apply 1', 'apply 2', 'teardown SIGTERM ready=true undo 2']);
    expect(await t.stopped).toEqual({ reason: 'SIGTERM' });
  });

  it('close() during start-up aborts between steps, undoes what was applied, ready rejects TunnelStartAborted', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const { steps, events } = recorder({ gate });
    const t = lifecycleTunnel(steps, log);
    const closing = t.close('SIGINT');
    open();
    await expect(t.ready).rejects.toBeInstanceOf(TunnelStartAborted);
    expect((await closing).clean).toBe(true);
    expect(events).toEqual(['apply 1', 'teardown SIGINT ready=false undo 1']);
    expect(await t.stopped).toEqual({ reason: 'SIGINT' });
  });

  it('close() during the last step: start finishes, but the tunnel is torn down and ready rejects', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const events: string[] = [];
    const t = lifecycleTunnel(
      {
        async start() {
          await gate; // a step that does not look at the signal
          return { info, stats: () => EMPTY_STATS };
        },
        async teardown(reason, ready) {
          events.push(`teardown ${reason} ready=${ready}`);
          return true;
        },
      },
      log,
    );
    const closing = t.close('SIGTERM');
    open();
    await expect(t.ready).rejects.toBeInstanceOf(TunnelStartAborted);
    await closing;
    expect(events).toEqual(['teardown SIGTERM ready=false']);
  });

  it('a failed start undoes before ready rejects with the cause; stopped says start failed', async () => {
    const { steps, events } = recorder({ failAt: 2 });
    const t = lifecycleTunnel(steps, log);
    await expect(t.ready).rejects.toThrow('EEXIST at 2');
    expect(events).toEqual(['apply 1', 'apply 2', 'teardown start failed ready=false undo 2']);
    const stop = await t.stopped;
    expect(stop.reason).toBe('start failed');
    expect(stop.error?.message).toBe('EEXIST at 2');
    expect((await t.close()).clean).toBe(true);
    expect(events).toHaveLength(3); // no second teardown
  });

  it('a failure reported from inside (device error) resolves stopped; a teardown that throws is not clean', async () => {
    let report!: (reason: string, error: Error) => void;
    const t = lifecycleTunnel(
      {
        async start(_signal, fail) {
          report = fail;
          return { info, stats: () => EMPTY_STATS };
        },
        async teardown() {
          throw new Error('route busy');
        },
      },
      log,
    );
    await t.ready;
    report('device error', new Error('EBADFD'));
    expect((await t.stopped).error?.message).toBe('EBADFD');
    expect((await t.close('device error')).clean).toBe(false);
    expect(lines).toContain('warn: teardown: route busy');
  });
});

describe('createTunnel (the library entry)', () => {
  it('resolves config-file keys (camelCase and kebab-case) and hands them to the platform', async () => {
    const platform = fakePlatform();
    const t = createTunnel(
      // kebab-case keys as in a config file work too (untyped: TunnelConfig names the camelCase ones)
      {
        proxy: 'socks5://127.0.0.1:1080',
        autoRoute: true,
        'udp-timeout': '5s',
        address: '10.9.0.1/24',
      } as never,
      { platform, log },
    );
    expect((await t.ready).name).toBe('ztun0');
    const run = platform.runs[0]!;
    expect(run.config.autoRoute).toBe(true);
    expect(run.config.udpTimeoutMs).toBe(5000);
    expect(run.config.addresses.map((a) => a.address)).toEqual(['10.9.0.1']);
    expect(run.ctx.proxyAddresses).toEqual(['127.0.0.1']);
    await t.close();
    expect(run.teardowns).toBe(1);
  });

  it('bad settings and an unsupported OS reject ready with one clear error, nothing started', async () => {
    await expect(createTunnel({ mtu: 12 }, { platform: fakePlatform(), log }).ready).rejects.toThrow(
      ConfigError,
    );
    await expect(
      createTunnel({ bogus: 1 } as never, { platform: fakePlatform(), log }).ready,
    ).rejects.toThrow(/createTunnel: unknown key 'bogus'/);
    const t = createTunnel({}, { platform: unsupportedPlatform('aix', 'no TUN here'), log });
    await expect(t.ready).rejects.toThrow(RunRefused);
    expect((await t.stopped).reason).toBe('start failed');
  });

  it('close() before the platform started the tunnel aborts without creating it', async () => {
    const platform = fakePlatform();
    const t = createTunnel({}, { platform, log });
    const closed = await t.close('early');
    await expect(t.ready).rejects.toBeInstanceOf(TunnelStartAborted);
    expect(closed.clean).toBe(true);
    expect(platform.runs).toHaveLength(0);
  });
});

describe('runTunnel (ztun run after parsing)', () => {
  it('prints the ready line from TunnelInfo and the stop line with the final counts; exit 0', async () => {
    lines.length = 0;
    const platform = fakePlatform();
    const config = (await import('../src/config.js')).resolveConfig({ route: ['10.0.0.0/8'] });
    const code = await runTunnel(platform, config, {
      proxyAddresses: [],
      log,
      statsOut: { write: () => {}, isTTY: false },
    });
    expect(code).toBe(0);
    expect(lines.find((l) => l.startsWith('ready: '))).toMatch(
      /^ready: ztun0 198\.18\.0\.1\/15 mtu 65520, proxy direct, 0 route\(s\), 0 changes applied; fake$/,
    );
    expect(lines.at(-1)).toMatch(/^stopped \(carried 0 B up, 0 B down\); everything it added is removed$/);
    expect(platform.runs[0]!.teardowns).toBe(1);
  });

  it('a tunnel that fails by itself ends the run with exit 1 after its teardown', async () => {
    let report!: (reason: string, error: Error) => void;
    let teardowns = 0;
    const platform = {
      ...fakePlatform(),
      createTunnel: () =>
        lifecycleTunnel(
          {
            async start(_s, fail) {
              report = fail;
              setImmediate(() => report('device error', new Error('EIO')));
              return { info, stats: () => EMPTY_STATS };
            },
            async teardown() {
              teardowns++;
              return true;
            },
          },
          log,
        ),
    };
    const config = (await import('../src/config.js')).resolveConfig({});
    const code = await runTunnel(platform, config, {
      proxyAddresses: [],
      log,
      statsOut: { write: () => {}, isTTY: false },
    });
    expect(code).toBe(1);
    expect(teardowns).toBe(1);
  });
});
