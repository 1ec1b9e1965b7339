// Echo requests answered in the addon's read path (native/icmp_echo.h, issue 17 item 6) against the stack's JS
// path on random packets: IPv4 with and without options, IPv6 with and without extension headers, odd and
// even lengths, link padding, fragments, other types, broken checksums. Whatever the addon answers, the stack
// would have answered with exactly these bytes; whatever the stack answers and the addon may (IPv4, IPv6
// without extension headers), the addon answers; what it does not answer it leaves untouched, for JS.
import { echoReplyInPlace, PacketView } from '@ztun/packet';
import { skipUnless } from '@ztun/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/addon.linux.js';

const linux = process.platform === 'linux';
const BOTH = 3; // kEchoIpv4 | kEchoIpv6

type NativeEcho = (packet: Uint8Array, families: number) => number;
const native = (): NativeEcho =>
  (loadAddon() as unknown as { echoReplyInPlace: NativeEcho }).echoReplyInPlace;

const pv = new PacketView();

/**
 * The stack's path for one packet read from the TUN, in @ztun/stack's order (packet-path.ts PacketPath.packet:
 * parse, IPv4 header checksum, fragments; icmp-echo.ts IcmpEcho.answer with icmp 'reply' and no hook:
 * transport checksum, type, echoReplyInPlace): the length it writes back, or 0.
 */
function stackReply(b: Uint8Array): number {
  if (pv.reset(b, 0, b.length) !== 0) return 0;
  let total: number;
  if (pv.version === 4) {
    if (!pv.ipv4.verifyHeaderChecksum() || pv.ipv4.isFragment) return 0;
    total = pv.ipv4.totalLength;
  } else {
    if (pv.ipv6.fragmentOffset !== 0 || pv.ipv6.moreFragments) return 0;
    total = 40 + pv.ipv6.payloadLength;
  }
  if (pv.transport !== 1 && pv.transport !== 58) return 0;
  if (!pv.verifyTransportChecksum()) return 0;
  if ((pv.version === 4 ? pv.icmpv4.type : pv.icmpv6.type) !== (pv.version === 4 ? 8 : 128)) return 0;
  return echoReplyInPlace(pv) ? total : 0;
}

interface Spec {
  v6: boolean;
  options: number; // IPv4 option words (0…10)
  ext: 'none' | 'hop' | 'fragment'; // IPv6 extension header before the ICMPv6 message
  fragment: number; // IPv4 flags/offset word
  ttl: number;
  type: number;
  code: number;
  payload: Uint8Array;
  padding: number; // bytes after the IP datagram (link padding)
  corrupt: 'none' | 'ip' | 'icmp';
  seed: number;
}

const spec = fc.record({
  v6: fc.boolean(),
  options: fc.integer({ min: 0, max: 10 }),
  ext: fc.constantFrom('none', 'none', 'hop', 'fragment'),
  fragment: fc.constantFrom(0, 0, 0x4000, 0x2000, 0x0001),
  ttl: fc.integer({ min: 1, max: 255 }),
  type: fc.constantFrom(8, 8, 128, 128, 0, 129, 3, 13),
  code: fc.constantFrom(0, 0, 1, 255),
  payload: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  padding: fc.integer({ min: 0, max: 3 }),
  corrupt: fc.constantFrom('none', 'none', 'none', 'ip', 'icmp'),
  seed: fc.integer({ min: 0, max: 255 }),
}) as fc.Arbitrary<Spec>;

/** The packet of a spec, checksums right unless `corrupt` says otherwise. */
function build(s: Spec): Uint8Array {
  const icmpLength = 8 + s.payload.length;
  if (!s.v6) {
    const ihl = 20 + 4 * s.options;
    const total = ihl + icmpLength;
    const b = new Uint8Array(total + s.padding).fill(s.seed);
    b[0] = 0x40 | (ihl / 4);
    b[1] = 0;
    b[2] = total >> 8;
    b[3] = total & 0xff;
    b[6] = s.fragment >> 8;
    b[7] = s.fragment & 0xff;
    b[8] = s.ttl;
    b[9] = 1;
    b.set([10, 0, 0, 1, 10, 9, 8, 7], 12);
    b[ihl] = s.type;
    b[ihl + 1] = s.code;
    b.set(s.payload, ihl + 8);
    if (pv.reset(b, 0, total) === 0) pv.updateChecksums();
    else {
      pv.ipv4.reset(b, 0, total);
      pv.ipv4.updateHeaderChecksum();
    }
    if (s.corrupt === 'ip') b[10]! ^= 0x01;
    if (s.corrupt === 'icmp') b[ihl + 2]! ^= 0x40;
    return b;
  }
  const extLength = s.ext === 'none' ? 0 : 8;
  const payloadLength = extLength + icmpLength;
  const b = new Uint8Array(40 + payloadLength + s.padding).fill(s.seed);
  b[0] = 0x60;
  b[1] = 0;
  b[2] = 0;
  b[3] = 0;
  b[4] = payloadLength >> 8;
  b[5] = payloadLength & 0xff;
  b[6] = s.ext === 'none' ? 58 : s.ext === 'hop' ? 0 : 44;
  b[7] = s.ttl;
  b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
  b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34], 24);
  let at = 40;
  if (s.ext === 'hop') {
    b.set([58, 0, 1, 4, 0, 0, 0, 0], at); // Hop-by-Hop: PadN over the rest (RFC 8200 §4.2)
    at += 8;
  } else if (s.ext === 'fragment') {
    b.set([58, 0, 0, 0, 0, 0, 0, 7], at); // an atomic fragment: offset 0, M 0 (RFC 6946)
    at += 8;
  }
  b[at] = s.type;
  b[at + 1] = s.code;
  b.set(s.payload, at + 8);
  if (pv.reset(b, 0, 40 + payloadLength) === 0) pv.updateChecksums();
  if (s.corrupt === 'icmp') b[at + 2]! ^= 0x40;
  return b;
}

describe(
  'echo requests answered in the addon (native/icmp_echo.h)',
  skipUnless(linux, 'the addon is Linux-only'),
  () => {
    it('answers with the stack’s bytes, answers every plain request the stack answers, leaves the rest untouched', () => {
      const answer = native();
      let answered = 0;
      fc.assert(
        fc.property(spec, (s) => {
          const packet = build(s);
          const js = packet.slice();
          const expected = stackReply(js);
          const mine = packet.slice();
          const n = answer(mine, BOTH);
          if (n === 0) {
            expect(mine).toEqual(packet);
            // The addon may pass over only what it does not parse itself: IPv6 extension headers.
            if (expected !== 0) expect(s.v6 && s.ext !== 'none').toBe(true);
            return;
          }
          answered++;
          expect(n).toBe(expected);
          expect(mine.subarray(0, n)).toEqual(js.subarray(0, n));
        }),
        { numRuns: 3000 },
      );
      expect(answered).toBeGreaterThan(100); // the generator does make requests it answers
    });

    it('answers only the families it is given', () => {
      const answer = native();
      const base: Spec = {
        v6: false,
        options: 1,
        ext: 'none',
        fragment: 0,
        ttl: 3,
        type: 8,
        code: 0,
        payload: new Uint8Array([1, 2, 3]),
        padding: 0,
        corrupt: 'none',
        seed: 0,
      };
      const v4 = build(base);
      const v6 = build({ ...base, v6: true, type: 128 });
      expect(answer(v4.slice(), 2)).toBe(0);
      expect(answer(v6.slice(), 1)).toBe(0);
      expect(answer(v4.slice(), 1)).toBe(v4.length);
      expect(answer(v6.slice(), 2)).toBe(v6.length);
      expect(answer(new Uint8Array(0), BOTH)).toBe(0);
    });
  },
);
