// ICMP echo requests answered in the TUN's read path, before JS (issue 17 item 6): the same reply, byte for
// byte, as @ztun/stack's JS path (stack/src/icmp-echo.ts → @ztun/packet echoReplyInPlace), for the packets it
// is sure about; anything else is left to JS, which counts the drop reasons.
//
// Answered: IPv4 (any header options) whose header checksum is right, not a fragment (flags/offset & 0x3fff
// == 0), protocol 1, an ICMP message of ≥ 8 bytes with a right checksum and type 8 (RFC 792); IPv6 whose next
// header is 58 directly (no extension headers), ≥ 8 bytes, right checksum over the pseudo-header (RFC 8200
// §8.1) and type 128 (RFC 4443 §4.1). The reply: addresses swapped (no checksum changes: a swap keeps every
// sum), TTL / hop limit 64, type 0 / 129, and the two checksums it covers updated incrementally (RFC 1624
// eqn. 3). Its length is the IP datagram's (bytes past the total length — link padding — are not written).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checksum.h"

namespace ztun {

// Families answered: a bit each.
constexpr unsigned kEchoIpv4 = 1;
constexpr unsigned kEchoIpv6 = 2;

namespace detail {

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m → m' covered by the checksum at `at`.
inline void UpdateChecksum16(uint8_t* at, uint16_t oldWord, uint16_t newWord) {
  uint64_t sum = static_cast<uint16_t>(~Get16(at)) + static_cast<uint16_t>(~oldWord) + newWord;
  Put16(at, static_cast<uint16_t>(~Fold(sum)));
}

}  // namespace detail

// Turns the echo request in p[0, n) into its reply in place; returns the reply's length, or 0 when the packet
// is not one this answers (left untouched, for JS).
inline size_t EchoReplyInPlace(uint8_t* p, size_t n, unsigned families) {
    if (n < 1) return 0;
  const unsigned version = p[0] >> 4;
  if (version == 4 && (families & kEchoIpv4) != 0) {
    if (n < 20) return 0;
    const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
    const size_t total = Get16(p + 2);
    if (ihl < 20 || total > n || total < ihl + 8) return 0;
    if (p[9] != 1 || (Get16(p + 6) & 0x3fff) != 0) return 0;
    if (Fold(SumBytes(p, ihl, 0)) != 0xffff) return 0;
    uint8_t* icmp = p + ihl;
    if (icmp[0] != 8 || Fold(SumBytes(icmp, total - ihl, 0)) != 0xffff) return 0;
    uint8_t a[4];
    memcpy(a, p + 12, 4);
    memcpy(p + 12, p + 16, 4);
    memcpy(p + 16, a, 4);
    const uint16_t oldTtl = Get16(p + 8);
    p[8] = 64;
    detail::UpdateChecksum16(p + 10, oldTtl, Get16(p + 8));
    const uint16_t oldType = Get16(icmp);
    icmp[0] = 0;
    detail::UpdateChecksum16(icmp + 2, oldType, Get16(icmp));
    return total;
  }
  if (version == 6 && (families & kEchoIpv6) != 0) {
    if (n < 40) return 0;
    const size_t payload = Get16(p + 4);
    if (p[6] != 58 || payload < 8 || 40 + payload > n) return 0;
    uint8_t* icmp = p + 40;
    if (icmp[0] != 128) return 0;
    // Pseudo-header: source, destination, upper-layer length (32 bits), next header (RFC 8200 §8.1).
    uint64_t sum = SumBytes(p + 8, 32, 0) + payload + 58;
    if (Fold(SumBytes(icmp, payload, sum)) != 0xffff) return 0;
    uint8_t a[16];
    memcpy(a, p + 8, 16);
    memcpy(p + 8, p + 24, 16);
    memcpy(p + 24, a, 16);
    p[7] = 64;
    const uint16_t oldType = Get16(icmp);
    icmp[0] = 129;
    detail::UpdateChecksum16(icmp + 2, oldType, Get16(icmp));
    return 40 + payload;
  }
  return 0;
}

}  // namespace ztun
