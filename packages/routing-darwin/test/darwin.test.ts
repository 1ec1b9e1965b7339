import { describe, expect, it } from 'vitest';
import { createDarwinRouteClient, createDarwinRouteSystem } from '../src/index.js';

const onMac = process.platform === 'darwin';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!onMac) {
  console.log(
    `[routing-darwin] real route-socket tests skipped: they need macOS (this is ${process.platform})`,
  );
}

describe('off macOS', () => {
  it.skipIf(onMac)('the koffi transport refuses clearly instead of crashing', async () => {
    await expect(createDarwinRouteSystem()).rejects.toThrow(
      /runs only on macOS \(this is linux|runs only on macOS/,
    );
  });
});

// Real syscalls: only on a Mac. RTM_GET needs no root; changes would, and are not made here.
describe.skipIf(!onMac)('real macOS routing socket', () => {
  it('RTM_GET of the default route matches the reply by seq and pid', async () => {
    const { client } = await createDarwinRouteClient();
    const entry = await client.getRoute('0.0.0.0/0');
    expect(entry === null || entry.family === 'inet').toBe(true);
  });

  it('NET_RT_DUMP decodes completely', async () => {
    const { client } = await createDarwinRouteClient();
    const routes = await client.listRoutes();
    expect(routes.length).toBeGreaterThan(0);
  });

  it.skipIf(!isRoot)('flushScopedDefaults runs (root)', async () => {
    const { client } = await createDarwinRouteClient();
    expect(await client.flushScopedDefaults()).toBeGreaterThanOrEqual(0);
  });
});
