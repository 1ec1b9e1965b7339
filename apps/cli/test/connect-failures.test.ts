import { describe, expect, it } from 'vitest';
import { connectFailureReporter } from '../src/connect-failures.js';

describe('connectFailureReporter', () => {
  it('counts every failure and warns at most once per quiet period, with how many it held back', () => {
    const lines: string[] = [];
    let t = 1_000_000;
    const log = {
      warn: (m: string) => lines.push(`warn ${m}`),
      debug: (m: string) => lines.push(`debug ${m}`),
    };
    const f = connectFailureReporter(log, 10_000, () => t);
    const refused = new Error('connect ECONNREFUSED 10.0.0.2:80');
    f.failed('10.0.0.2:80', refused);
    t += 1000;
    f.failed('10.0.0.2:80', refused);
    t += 1000;
    f.failed('[fd00::2]:443', new Error('timed out'));
    expect(f.count).toBe(3);
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn connect 10.0.0.2:80 failed: connect ECONNREFUSED 10.0.0.2:80; the client got a reset',
    ]);
    expect(lines.filter((l) => l.startsWith('debug'))).toHaveLength(2);
    t += 9000; // 11 s after the first warning
    f.failed('10.0.0.3:22', refused);
    expect(f.count).toBe(4);
    expect(lines.at(-1)).toBe(
      'warn connect 10.0.0.3:22 failed: connect ECONNREFUSED 10.0.0.2:80; the client got a reset (and 2 more in the last 11 s)',
    );
    t += 20_000;
    f.failed('10.0.0.3:22', refused);
    expect(lines.at(-1)).toMatch(/reset$/);
  });
});
