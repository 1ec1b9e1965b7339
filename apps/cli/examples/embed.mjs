#!/usr/bin/env node
// ztun inside your own program: createTunnel with the config file's keys, wait for ready, read stats, close.
// Run as root (or with CAP_NET_ADMIN), ideally in a network namespace of your own:
//   node examples/embed.mjs '{"proxy":"direct","autoRoute":true}'
// Prints one JSON stats line every 500 ms; SIGINT/SIGTERM closes the tunnel (routes, rules and device removed).

import { createTunnel } from 'ztun';

const config = JSON.parse(process.argv[2] ?? '{"proxy":"direct","autoRoute":true}');
const tunnel = createTunnel(config);
process.once('SIGINT', () => void tunnel.close('SIGINT'));
process.once('SIGTERM', () => void tunnel.close('SIGTERM'));

try {
  const info = await tunnel.ready;
  console.log(
    `embed: ready: ${info.name} ${info.addresses.join(' ')} mtu ${info.mtu}; ${info.changes} changes`,
  );
} catch (err) {
  console.error(`embed: not started: ${err.message}`);
  process.exit(1);
}
const timer = setInterval(() => console.log(JSON.stringify(tunnel.stats())), 500);
const stop = await tunnel.stopped;
clearInterval(timer);
const closed = await tunnel.close(stop.reason);
console.log(
  `embed: closed (${stop.reason}${stop.error ? `: ${stop.error.message}` : ''}); ` +
    `${closed.clean ? 'everything removed' : 'something could not be removed'}; ` +
    `carried ${closed.stats?.bytesOut ?? 0} B up, ${closed.stats?.bytesIn ?? 0} B down`,
);
process.exit(closed.clean && !stop.error ? 0 : 1);
