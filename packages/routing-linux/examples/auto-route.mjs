#!/usr/bin/env node
// Linux auto-route from @ztun/routing-linux alone: plan → dry-run text → apply → look → undo.
// It changes the routing of the namespace it runs in, so it refuses the host's. As root:
//   ip netns add ztun-example
//   ip netns exec ztun-example node examples/auto-route.mjs
//   ip netns del ztun-example
// The tunnel here is a persistent TUN no process reads (`ip tuntap add`); with @ztun/tun-linux it is
// `const tun = await openTun({ addresses: [...] })` and `oif: tun.index`. iproute2 only creates that link
// and prints what the kernel holds; every route and rule goes in through @ztun/routing-linux.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyAutoRoute,
  describeAutoRoute,
  flushAutoRoute,
  planAutoRoute,
  RtNetlink,
} from '@ztun/routing-linux';

const DEV = 'ztex0';
const TABLE = 31348;
const FWMARK = 0x7a74; // give the tunnel's own sockets this SO_MARK: they skip the tunnel (no loop)

// Runs only inside a namespace `ip netns add` made (its /run/netns file is this process's namespace):
// a positive check, so it fails closed wherever the namespace cannot be identified.
const inNamedNetns = () => {
  try {
    const own = statSync('/proc/self/ns/net');
    return readdirSync('/run/netns').some((name) => {
      const st = statSync(join('/run/netns', name));
      return st.ino === own.ino && st.dev === own.dev;
    });
  } catch {
    return false;
  }
};
if (!inNamedNetns()) {
  console.error(
    "auto-route example: not inside a namespace made by `ip netns add`; refusing to change this namespace's routing (run it with ip netns exec)",
  );
  process.exit(2);
}
const ip = (...args) => execFileSync('ip', args, { encoding: 'utf8' }).trimEnd();

ip('tuntap', 'add', 'dev', DEV, 'mode', 'tun');
const nl = RtNetlink.open();
try {
  const { index } = nl.getLink(DEV);
  nl.addAddress({ index, cidr: '198.18.0.1/15' });
  nl.setLink(index, { up: true });

  // What a process that died without undo left behind (found by ztun's protocol and priority tags).
  const left = flushAutoRoute(nl);
  console.log(`# flushed leftovers: ${left.routes} route(s), ${left.rules} rule(s)`);

  const plan = planAutoRoute({
    dev: DEV,
    families: [4],
    table: TABLE,
    fwmark: FWMARK,
    captureDefault: true,
    exclude: ['192.168.0.0/16'], // the LAN stays off the tunnel
    bypass: ['203.0.113.5'], // e.g. the SOCKS5 server the tunnel's traffic goes to
    killSwitch: true,
  });
  const text = describeAutoRoute(plan);
  console.log('# dry run:');
  console.log(text.apply.join('\n'));
  for (const note of plan.notes) console.log(`# note: ${JSON.stringify(note)}`);

  // A transaction: a step that fails (EEXIST…) undoes the ones before it and throws AutoRouteError.
  const applied = applyAutoRoute(nl, plan, { oif: index });
  try {
    console.log('# ip rule');
    console.log(ip('rule'));
    console.log(`# ip route show table ${TABLE}`);
    console.log(ip('route', 'show', 'table', String(TABLE)));
    console.log('# ip route get 192.0.2.1');
    console.log(ip('route', 'get', '192.0.2.1'));
  } finally {
    const failures = applied.undo();
    for (const f of failures) console.error(`could not undo '${f.text}': ${f.error.message}`);
    console.log(`# undone (${failures.length} failure(s)); ip rule`);
    console.log(ip('rule'));
  }
} finally {
  nl.close();
  ip('link', 'del', DEV);
}
