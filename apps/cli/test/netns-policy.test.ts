import { missingCommandsReason, type Netns, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  CLIENT,
  HTTP_PORT,
  SERVER,
  SOCKS,
  startDantedBlocking,
  statsLines,
  withClTopology,
} from './cl-topology.js';
import { bin, netState, startZtun, type ZtunProcess } from './helpers.js';

// Issue 16 item 1 with real traffic: curl run as a given uid (setpriv) inside the client namespace. The
// server's /whoami tells the path: the SOCKS5 proxy's address means through ztun, the client's own address
// means around it; ztun's stats lines (bytes at its outbound) must move only for traffic that went through.

const skip = netnsSkipReason() ?? missingCommandsReason(['danted', 'curl', 'setpriv']);
const URL_WHOAMI = `http://${SERVER}:${HTTP_PORT}/whoami`;

interface Stats {
  bytesIn: number;
  bytesOut: number;
}

/** curl as `uid` (no supplementary groups); its stdout, or throws with stderr. */
function curlAs(client: Netns, uid: number | 'root'): string {
  const args = ['-sS', '-m', '10', URL_WHOAMI];
  const r =
    uid === 'root'
      ? client.tryExec('curl', args)
      : client.tryExec('setpriv', [
          '--reuid',
          String(uid),
          '--regid',
          String(uid),
          '--clear-groups',
          'curl',
          ...args,
        ]);
  if (r.status !== 0) throw new Error(`curl as ${uid} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** The first stats line printed after now (so it reflects everything done before this call). */
async function nextStats(z: ZtunProcess): Promise<Stats> {
  const printed = statsLines(z.output()).length;
  await waitFor('a fresh stats line', () => statsLines(z.output()).length > printed + 1, 10_000);
  return statsLines<Stats>(z.output()).at(-1)!;
}

async function run(args: string[], check: (client: Netns, z: ZtunProcess) => Promise<void>) {
  await withClTopology(async (client, server) => {
    await startDantedBlocking(server, 1080);
    const before = netState(client);
    const z = await startZtun(client, [
      '--auto-route',
      '--proxy',
      `socks5://${SOCKS}:1080`,
      '--stats-interval',
      '100ms',
      ...args,
    ]);
    await check(client, z);
    // Killed without undo: `ztun cleanup` finds the selector rules by ztun's priority band.
    z.proc.child.kill('SIGKILL');
    await z.proc.exited;
    expect(client.ip('-4', 'rule', 'show')).toMatch(/uidrange/);
    expect(client.tryExec(process.execPath, [bin, 'cleanup']).status).toBe(0);
    expect(netState(client)).toEqual(before);
  });
}

describe('--include-uid / --exclude-uid (namespaces, real traffic)', skipWhen(skip), () => {
  it('--include-uid 1001: only uid 1001 goes through ztun (proxy address, counters rise); 1002 and root go around', async () => {
    await run(['--include-uid', '1001'], async (client, z) => {
      const s0 = await nextStats(z);
      expect(curlAs(client, 1002)).toBe(CLIENT);
      expect(curlAs(client, 'root')).toBe(CLIENT);
      const s1 = await nextStats(z);
      expect(s1).toMatchObject({ bytesIn: s0.bytesIn, bytesOut: s0.bytesOut });
      expect(curlAs(client, 1001)).toBe(SOCKS);
      const s2 = await nextStats(z);
      expect(s2.bytesIn).toBeGreaterThan(s1.bytesIn);
      expect(s2.bytesOut).toBeGreaterThan(s1.bytesOut);
    });
  });

  it('--exclude-uid 1002: everyone but 1002 goes through ztun; 1002 never touches its counters', async () => {
    await run(['--exclude-uid', '1002'], async (client, z) => {
      const s0 = await nextStats(z);
      expect(curlAs(client, 1002)).toBe(CLIENT);
      const s1 = await nextStats(z);
      expect(s1).toMatchObject({ bytesIn: s0.bytesIn, bytesOut: s0.bytesOut });
      expect(curlAs(client, 1001)).toBe(SOCKS);
      expect(curlAs(client, 'root')).toBe(SOCKS);
      const s2 = await nextStats(z);
      expect(s2.bytesIn).toBeGreaterThan(s1.bytesIn);
    });
  });
});
