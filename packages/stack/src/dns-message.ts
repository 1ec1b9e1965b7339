import * as dnsPacket from 'dns-packet';

// The few things the stack needs to know about DNS messages, through dns-packet (the wire format,
// RFC 1035 §4.1): how large an answer the client can take over UDP, a truncated (TC) answer when it cannot,
// and a SERVFAIL when the resolver cannot be reached.

/** RFC 1035 §4.2.1: UDP messages are at most 512 bytes unless EDNS says more. */
export const CLASSIC_UDP_LIMIT = 512;

type Decoded = ReturnType<typeof dnsPacket.decode>;

function decode(message: Uint8Array): Decoded | undefined {
  try {
    return dnsPacket.decode(Buffer.from(message.buffer, message.byteOffset, message.length));
  } catch {
    return undefined;
  }
}

/** A query (QR = 0) with at least a header: worth sending to a resolver. */
export function isDnsQuery(message: Uint8Array): boolean {
  return message.length >= 12 && (message[2]! & 0x80) === 0;
}

/**
 * The largest UDP answer the client of `query` takes: its EDNS OPT record's requestor's payload size
 * (RFC 6891 §6.2.3, never below 512), else 512.
 */
export function udpAnswerLimit(query: Uint8Array): number {
  const q = decode(query);
  const opt = q?.additionals?.find((r) => r.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(CLASSIC_UDP_LIMIT, opt?.udpPayloadSize ?? CLASSIC_UDP_LIMIT);
}

/**
 * `answer` cut down to fit in UDP: header with TC set, the question and the OPT record (RFC 6891 §7), no
 * records (RFC 2181 §9: a truncated answer's records cannot be trusted, so send none). The client then
 * asks again over TCP (RFC 7766 §5). Undefined when the answer does not decode.
 */
export function truncatedAnswer(answer: Uint8Array): Uint8Array | undefined {
  const a = decode(answer);
  if (!a) return undefined;
  return dnsPacket.encode({
    id: a.id,
    type: 'response',
    flags: (a.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    questions: a.questions ?? [],
    additionals: (a.additionals ?? []).filter((r) => r.type === 'OPT'),
  });
}

/** `answer` as it goes back over UDP to a client that takes at most `limit` bytes. */
export function fitUdpAnswer(answer: Uint8Array, limit: number): Uint8Array | undefined {
  return answer.length <= limit ? answer : truncatedAnswer(answer);
}

/** A SERVFAIL answer to `query` (RFC 1035 §4.1.1 RCODE 2), so the client moves on without waiting. */
export function servfailAnswer(query: Uint8Array): Uint8Array | undefined {
  const q = decode(query);
  if (!q) return undefined;
  return dnsPacket.encode({
    id: q.id,
    type: 'response',
    flags: ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | 2,
    questions: q.questions ?? [],
  });
}

/**
 * The local answer to an A or AAAA question (class IN): `addressFor` gives the record's address (undefined:
 * none of that family, answered NOERROR without records so the client tries the other family). Undefined
 * for every other query: it is forwarded.
 */
export function addressAnswer(
  query: Uint8Array,
  addressFor: (name: string, family: 4 | 6) => string | undefined,
  ttlS: number,
): Uint8Array | undefined {
  const q = decode(query);
  const question = q?.questions?.length === 1 ? q.questions[0]! : undefined;
  if (q?.type !== 'query' || !question) return undefined;
  if ((question.class ?? 'IN') !== 'IN' || (question.type !== 'A' && question.type !== 'AAAA'))
    return undefined;
  const family = question.type === 'A' ? 4 : 6;
  const address = addressFor(question.name, family);
  return dnsPacket.encode({
    id: q.id,
    type: 'response',
    flags: ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE,
    questions: [question],
    answers: address ? [{ type: question.type, name: question.name, ttl: ttlS, data: address }] : [],
  });
}
