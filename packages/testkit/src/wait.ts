import { spawnSync } from 'node:child_process';

/** True when `cmd` is on PATH. */
export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  intervalMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  );
}

/** Waits until something listens on a TCP port inside namespace `ns` (via `ss`). */
export async function waitForPort(ns: string, port: number, timeoutMs = 5000): Promise<void> {
  await waitFor(
    `TCP port ${port} listening in ${ns}`,
    () => {
      const r = spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`], {
        encoding: 'utf8',
      });
      return r.status === 0 && r.stdout.trim().length > 0;
    },
    timeoutMs,
  );
}
