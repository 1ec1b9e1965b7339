/** Golden vectors from shared/reference/darwin-windows-abi.md §1.8-1.9 and golang/net address_darwin_test.go. */

/** Hex text (spaces, newlines and `|` ignored) to bytes. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]/g, '');
  if (clean.length % 2 !== 0) throw new Error('odd hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const zeros = (n: number) => new Uint8Array(n);

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * V1: a real darwin amd64 RTM_GET reply with errno ESRCH at offset 24 (golang/go#70528, reproduced in
 * golang/net route/address_darwin_test.go:157-183). 132 bytes.
 */
export const V1 = concat(
  hex('84 00 05 04 01 00 00 00 03 08 00 01 15 00 00 00'),
  hex('1b 01 00 00 f5 5a 00 00 03 00 00 00 00 00 00 00'),
  zeros(60),
  hex('10 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00'),
  hex('00 02 00 00'),
  hex('14 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'),
);

/** V2: route(8) RTM_ADD echo captured with `route monitor` (golang/net PR #220). 136 bytes. */
export const V2 = concat(
  hex('88 00 05 01 00 00 00 00 41 08 00 00 07 00 00 00'),
  hex('92 7b 00 00 01 00 00 00 00 00 00 00 00 00 00 00'),
  zeros(60),
  hex('10 02 00 00 64 71 00 00 00 00 00 00 00 00 00 00'),
  hex('14 12 21 00 01 08 00 00 75 74 75 6e 34 33 31 39 00 00 00 00'),
  hex('06 02 00 00 ff ff 00 00'),
);

const in4 = (a: string) => hex(`10 02 00 00 ${a} 00 00 00 00 00 00 00 00`);
const in6 = (a: string) => hex(`1c 1e 00 00 00 00 00 00 ${a} 00 00 00 00`);

/** D-A: RTM_ADD 10.0.0.0/8 via 100.64.0.1, UP|GATEWAY|STATIC, seq 1, 140 bytes. */
export const DA = concat(
  hex('8c 00 05 01 00 00 00 00 03 08 00 00 07 00 00 00 00 00 00 00 01 00 00 00'),
  zeros(68),
  in4('0a 00 00 00'),
  in4('64 40 00 01'),
  in4('ff 00 00 00'),
);

/** D-B: netbird-style host route 192.0.2.10/32 via 192.168.1.1, UP|PROTO1|HOST|GATEWAY, seq 7, 124 bytes. */
export const DB = concat(
  hex('7c 00 05 01 00 00 00 00 07 80 00 00 03 00 00 00 00 00 00 00 07 00 00 00'),
  zeros(68),
  in4('c0 00 02 0a'),
  in4('c0 a8 01 01'),
);

/** D-C: RTM_ADD fd00::/8 via fd00::1, flags 0x803, seq 2, 176 bytes. */
export const DC = concat(
  hex('b0 00 05 01 00 00 00 00 03 08 00 00 07 00 00 00 00 00 00 00 02 00 00 00'),
  zeros(68),
  in6('fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'),
  in6('fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01'),
  in6('ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'),
);

/**
 * D-D: netbird-style scoped default 0.0.0.0/0 via link "en0" (index 5), UP|STATIC|IFSCOPE|PROTO1,
 * rtm_index 5, seq 3, 136 bytes, gateway written the golang/net way (sdl_len 11, padded to 12).
 */
export const DD = concat(
  hex('88 00 05 01 05 00 00 00 01 88 00 01 07 00 00 00 00 00 00 00 03 00 00 00'),
  zeros(68),
  in4('00 00 00 00'),
  hex('0b 12 05 00 00 03 00 00 65 6e 30 00'),
  in4('00 00 00 00'),
);
