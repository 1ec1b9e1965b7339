import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../src/codec/address.js';
import { RTM_NEWROUTE, RTM_NEWRULE } from '../src/codec/constants.js';
import { parseLink } from '../src/codec/link.js';
import { MessageBuilder, parseAttrs, parseMessages } from '../src/codec/netlink.js';
import { buildRoute, parseRoute, resolveRoute } from '../src/codec/route.js';
import { buildRule, parseRule, resolveRule } from '../src/codec/rule.js';
import { NetlinkDecodeError } from '../src/errors.js';
import type { RouteSpec, RuleSpec } from '../src/types.js';

// Encode → decode agreement over random specs, and arbitrary bytes never escaping as anything but a
// NetlinkDecodeError.

const v4Prefix = fc
  .tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
  .map(([b, len]) => maskedText(b, len));
const v6Prefix = fc
  .tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }))
  .map(([b, len]) => maskedText(b, len));

function maskedText(b: Uint8Array, len: number): { family: 4 | 6; text: string; len: number } {
  const m = Uint8Array.from(b);
  for (let bit = len; bit < m.length * 8; bit++) m[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const family = m.length === 4 ? 4 : 6;
  const text =
    family === 4
      ? [...m].join('.')
      : Array.from({ length: 8 }, (_, i) => ((m[2 * i]! << 8) | m[2 * i + 1]!).toString(16)).join(':');
  return { family, text: `${text}/${len}`, len };
}

/** What the kernel's dump message for this request looks like: same body, type NEWROUTE/NEWRULE. */
function echo(type: number, bytes: Uint8Array) {
  const [m] = parseMessages(bytes);
  return parseMessages(new MessageBuilder(type, 2).struct(m!.payload).finish(1))[0]!;
}

describe('codec properties', () => {
  it('routes: what is encoded decodes back (dst, table incl. > 255, metric, oif, protocol, type)', () => {
    fc.assert(
      fc.property(
        fc.oneof(v4Prefix, v6Prefix),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('unicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'local') as fc.Arbitrary<
          NonNullable<RouteSpec['type']>
        >,
        (dst, table, metric, oif, protocol, type) => {
          const spec: RouteSpec = { dst: dst.text, table, metric, oif, protocol, type };
          const r = parseRoute(
            echo(RTM_NEWROUTE, buildRoute('add', resolveRoute('p', 'add', spec)).finish(1)),
          )!;
          expect(r.family).toBe(dst.family);
          expect(r.dstLength).toBe(dst.len);
          expect(resolveRoute('p', 'add', { ...spec, dst: r.dst }).dst.bytes).toEqual(
            resolveRoute('p', 'add', spec).dst.bytes,
          );
          expect(r).toMatchObject({ table, metric, oif, protocol, type });
        },
      ),
    );
  });

  it('rules: what is encoded decodes back', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 6 as const),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 32 }), { nil: undefined }),
        fc.option(fc.constantFrom('lo', 'zt0', 'eth0.100'), { nil: undefined }),
        (family, priority, table, fwmark, invert, suppressPrefixLength, iif) => {
          const spec: RuleSpec = {
            family,
            priority,
            table,
            fwmark,
            invert,
            suppressPrefixLength,
            iif,
            oif: iif,
          };
          const r = parseRule(echo(RTM_NEWRULE, buildRule('add', resolveRule('p', 'add', spec)).finish(1)))!;
          expect(r).toMatchObject({
            family,
            priority,
            table,
            fwmark,
            invert,
            suppressPrefixLength,
            iif,
            oif: iif,
          });
        },
      ),
    );
  });

  it('arbitrary bytes: parsers return or throw NetlinkDecodeError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 16, max: 34 }), (bytes, type) => {
        const attempt = (fn: () => unknown) => {
          try {
            fn();
          } catch (err) {
            expect(err).toBeInstanceOf(NetlinkDecodeError);
          }
        };
        attempt(() => parseMessages(bytes));
        attempt(() => parseAttrs(bytes));
        const msg = { type, flags: 0, seq: 0, pid: 0, payload: bytes };
        attempt(() => parseRoute({ ...msg, type: RTM_NEWROUTE }));
        attempt(() => parseRule({ ...msg, type: RTM_NEWRULE }));
        attempt(() => parseLink({ ...msg, type: 16 }));
        attempt(() => parseAddress({ ...msg, type: 20 }));
      }),
      { numRuns: 2000 },
    );
  });

  it('well-formed TLVs with any types and payload sizes: the decoders never throw', () => {
    const attr = fc.record({
      type: fc.integer({ min: 0, max: 70 }),
      payload: fc.uint8Array({ maxLength: 24 }),
    });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.array(attr, { maxLength: 12 }),
        (head, attrs) => {
          for (const [type, headLen] of [
            [RTM_NEWROUTE, 12],
            [RTM_NEWRULE, 12],
            [16, 16],
            [20, 8],
          ] as const) {
            const b = new MessageBuilder(type, 2).struct(head.subarray(0, headLen));
            for (const a of attrs) b.attr(a.type, a.payload);
            const [m] = parseMessages(b.finish(1));
            const parse = {
              [RTM_NEWROUTE]: parseRoute,
              [RTM_NEWRULE]: parseRule,
              16: parseLink,
              20: parseAddress,
            }[type];
            expect(() => parse(m!)).not.toThrow();
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
