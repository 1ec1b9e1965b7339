import { spawnSync } from 'node:child_process';

// Parses Prometheus text exposition with the Prometheus project's own Python client
// (prometheus_client.parser, Debian python3-prometheus-client: scripts/test-setup.sh), an implementation
// independent of prom-client, which wrote the text. Throws on text it refuses.

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** NaN and ±Inf arrive as the strings 'nan', 'inf', '-inf' (JSON has no such numbers). */
  readonly value: number | string;
}
export interface PromFamily {
  readonly name: string;
  readonly type: string;
  readonly samples: readonly PromSample[];
}

/** Debian's interpreter: the package installs into its dist-packages, whatever python3 is first on PATH. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

const SCRIPT = `
import sys, json, math
from prometheus_client.parser import text_string_to_metric_families
num = lambda v: v if math.isfinite(v) else str(v)
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type,
                "samples": [{"name": s.name, "labels": s.labels, "value": num(s.value)} for s in f.samples]})
print(json.dumps(out))
`;

export function parsePrometheus(text: string): PromFamily[] {
  const r = spawnSync(DEBIAN_PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prometheus_client refused the text: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout) as PromFamily[];
}

/** The value of sample `name` with exactly `labels` (undefined when absent). */
export function sampleValue(
  families: readonly PromFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | string | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k]))
        return s.value;
    }
  }
  return undefined;
}
