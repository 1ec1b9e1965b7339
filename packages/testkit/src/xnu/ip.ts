// Address text for the simulated XNU (dotted quads, RFC 4291 IPv6 text with `::`), kept here so the model
// shares no parsing code with the product it checks.

export function parseAddr(text: string): Uint8Array {
  if (!text.includes(':')) {
    const parts = text.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
      throw new Error(`simulated xnu: bad IPv4 address ${text}`);
    return Uint8Array.from(parts);
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  if (all.length !== 8 || all.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff))
    throw new Error(`simulated xnu: bad IPv6 address ${text}`);
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

export function parseCidrText(text: string): { family: 4 | 6; addr: Uint8Array; prefixLength: number } {
  const [a, p] = text.split('/') as [string, string | undefined];
  const addr = parseAddr(a);
  const family = addr.length === 4 ? 4 : 6;
  return { family, addr, prefixLength: p === undefined ? addr.length * 8 : Number(p) };
}
