import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { createDarwinRouteClient, createDarwinRouteSystem } from '../src/index.js';

const onMac = process.platform === 'darwin';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('off macOS', () => {
  it(
    'the koffi transport refuses clearly instead of crashing',
    skipUnless(!onMac, 'macOS has a real route socket'),
    async () => {
      await expect(createDarwinRouteSystem()).rejects.toThrow(
        /runs only on macOS \(this is linux|runs only on macOS/,
      );
    },
  );
});

// Real syscalls: only on a Mac. RTM_GET needs no root; changes would, and are not made here.
describe(
  'real macOS routing socket',
  skipUnless(onMac, `real route-socket tests need macOS (this is ${process.platform})`),
  () => {
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

    it('flushScopedDefaults runs (root)', skipUnless(isRoot, 'flushScopedDefaults needs root'), async () => {
      const { client } = await createDarwinRouteClient();
      expect(await client.flushScopedDefaults()).toBeGreaterThanOrEqual(0);
    });
  },
);
