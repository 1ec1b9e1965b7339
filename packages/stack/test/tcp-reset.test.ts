import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Node's resetAndDestroy() right after end() (libuv's shutdown request queued) fails with EINVAL and never
// closes the handle: the fd leaks and the process spins at exit. This is what made `ztun` hang after SIGTERM
// now and then at the end of a download. The fixture runs that moment in a child process.
const fixture = fileURLToPath(new URL('./fixtures/reset-after-end.mjs', import.meta.url));

/**
 * Runs the fixture until it exits, or (`killAfterLine`) until it has printed its line: with Node's own reset
 * the process never exits by itself. `deadlineMs` only bounds a hang; it is generous for a busy machine.
 */
function runFixture(mode: 'node' | 'stack', options: { killAfterLine: boolean; deadlineMs: number }) {
  return new Promise<{ code: number | string; line: Record<string, unknown> | undefined }>((resolve) => {
    const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (options.killAfterLine && out.includes('\n')) child.kill('SIGKILL');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const first = out.split('\n')[0];
      resolve({ code: code ?? signal ?? -1, line: first ? JSON.parse(first) : undefined });
    });
  });
}

describe('resetTcpSocket', () => {
  it('resets a socket whose FIN is queued: the peer sees a RST, the socket closes, the process can exit', {
    timeout: 130_000,
  }, async () => {
    // Control: the fixture does reach the state where Node's own reset is refused.
    const control = await runFixture('node', { killAfterLine: true, deadlineMs: 60_000 });
    expect(control.line?.state).toBe('ended=true finished=false');

    // The subject: with resetTcpSocket the process exits by itself (a leaked handle would hold it until
    // the deadline's SIGKILL, and the code would say so).
    const r = await runFixture('stack', { killAfterLine: false, deadlineMs: 60_000 });
    expect(r.line).toEqual({
      state: 'ended=true finished=false',
      socketError: null,
      socketClosed: true,
      peerError: 'ECONNRESET',
    });
    expect(r.code).toBe(0);
  });
});
