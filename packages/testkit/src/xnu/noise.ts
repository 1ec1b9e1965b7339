// The foreign traffic a route socket carries between a request and its reply: what a client that matches
// replies on less than type + seq + pid (netbird readRouteResponse's rule) would take for its own.

import {
  encodeMessage,
  interfaceMessage,
  RTF_DONE,
  RTM_GET,
  RTM_IFINFO,
  XnuErrno,
  type XnuMessage,
} from './codec.js';

/** Another pid with our seq, our pid with another seq (both with the opposite outcome), an RTM_IFINFO. */
export function decoys(m: XnuMessage): Uint8Array[] {
  const other = m.errno === 0 ? XnuErrno.EEXIST : 0;
  const lie: XnuMessage = {
    ...m,
    errno: other,
    flags: other ? m.flags & ~RTF_DONE : m.flags | RTF_DONE,
    index: 999,
  };
  if (m.type === RTM_GET)
    lie.addrs = [
      m.addrs[0],
      {
        kind: 'inet',
        family: m.addrs[0]?.kind === 'inet' ? m.addrs[0].family : 4,
        addr: new Uint8Array(m.addrs[0]?.kind === 'inet' && m.addrs[0].family === 6 ? 16 : 4).fill(9),
        scopeId: 0,
      },
      m.addrs[2],
      undefined,
      m.addrs[4] ? { kind: 'link', index: 999, name: 'en9' } : undefined,
    ];
  return [
    encodeMessage({ ...lie, pid: m.pid + 1 }), // another process that happens to use our seq
    encodeMessage({ ...lie, seq: m.seq + 1 }), // ours, another request (a seq we did not send yet)
    interfaceMessage(RTM_IFINFO, 1),
  ];
}
