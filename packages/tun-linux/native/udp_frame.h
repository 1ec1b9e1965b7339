// The byte work of the batch UDP path (native/udp_relay.cc), no syscalls: reply packets (IPv4/IPv6 + UDP,
// complete checksums) built in front of a received payload, and the SOCKS5 UDP request header (RFC 1928 §7)
// written and parsed. The bytes equal @ztun/packet's buildUdp (identification 0, DF, TTL/hop limit 64,
// traffic class 0) so the batch path and the per-datagram path write the same packets to the TUN
// (stack/test/udp-batch.test.ts checks it).
#pragma once

#include <stdint.h>
#include <string.h>

#include "checksum.h"

namespace ztun {
namespace udp {

// Room before a received payload for the largest header written in front of it: IPv6 (40) + UDP (8).
constexpr uint32_t kHeadroom = 48;
// The largest payload the per-datagram path accepts for a reply (stack/src/udp-sessions.ts: 65535 - 48).
constexpr uint32_t kMaxReplyPayload = 65535 - 48;

namespace detail {

// The UDP header's ports and length at `u`; its checksum field is left to the caller.
inline void WriteUdpHeader(uint8_t* u, uint32_t sport, uint32_t dport, uint32_t upper) {
  Put16(u, sport);
  Put16(u + 2, dport);
  Put16(u + 4, upper);
}

// The pseudo-header's sum for `upper` bytes of UDP: RFC 768 (IPv4), RFC 8200 §8.1 (IPv6). Not folded.
inline uint64_t PseudoHeaderSum(const uint8_t* src, const uint8_t* dst, uint32_t alen, uint32_t upper) {
  return SumBytes(dst, alen, SumBytes(src, alen, 0)) + 17 + upper;
}

// Writes the IPv4 (identification 0, DF, TTL 64, header checksum) or IPv6 (hop limit 64) header right before
// the UDP header at `u`; returns the packet's start.
inline uint8_t* WriteIpHeader(uint8_t* u, uint32_t upper, const uint8_t* src, const uint8_t* dst, uint32_t alen) {
  if (alen == 4) {
    uint8_t* ip = u - 20;
    ip[0] = 0x45;
    ip[1] = 0;
    Put16(ip + 2, 20 + upper);
    Put16(ip + 4, 0);
    Put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 17;
    Put16(ip + 10, 0);
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    Put16(ip + 10, static_cast<uint16_t>(~Fold(SumBytes(ip, 20, 0))));
    return ip;
  }
  uint8_t* ip = u - 40;
  ip[0] = 0x60;
  ip[1] = 0;
  ip[2] = 0;
  ip[3] = 0;
  Put16(ip + 4, upper);
  ip[6] = 17;
  ip[7] = 64;
  memcpy(ip + 8, src, 16);
  memcpy(ip + 24, dst, 16);
  return ip;
}

}  // namespace detail

// Writes IP + UDP headers ending right before `payload` (which must have kHeadroom bytes before it) for a
// datagram from src:sport to dst:dport (addresses of `alen` bytes, 4 or 16). Returns the packet's start.
inline uint8_t* BuildReply(uint8_t* payload, uint32_t payloadLength, const uint8_t* src, uint32_t sport,
                           const uint8_t* dst, uint32_t dport, uint32_t alen) {
  uint32_t upper = 8 + payloadLength;
  uint8_t* u = payload - 8;
  detail::WriteUdpHeader(u, sport, dport, upper);
  Put16(u + 6, 0);
  uint16_t c = static_cast<uint16_t>(~Fold(SumBytes(u, upper, detail::PseudoHeaderSum(src, dst, alen, upper))));
  Put16(u + 6, c == 0 ? 0xffff : c);  // RFC 768: a computed zero is sent as all ones
  return detail::WriteIpHeader(u, upper, src, dst, alen);
}

// A UDP GSO (USO) reply: the largest payload of one super-packet (IPv4 total length 65535 = 20 + 8 + 65507;
// IPv6 takes as much) and its most segments (include/linux/udp.h UDP_MAX_SEGMENTS is 64 on older kernels).
constexpr uint32_t kMaxUsoPayload = 65507;
constexpr uint32_t kMaxUsoSegments = 64;

// Writes the IP + UDP header of a super-packet ending right before `payload` (kHeadroom bytes before it): as
// BuildReply, but the lengths cover the whole payload and the UDP checksum is left partial — the field holds
// the folded, not complemented pseudo-header sum (Linux CHECKSUM_PARTIAL, virtio NEEDS_CSUM), which the
// kernel adjusts per segment (net/ipv4/udp_offload.c __udp_gso_segment). Returns the packet's start.
inline uint8_t* BuildUsoHeader(uint8_t* payload, uint32_t payloadLength, const uint8_t* src, uint32_t sport,
                               const uint8_t* dst, uint32_t dport, uint32_t alen) {
  uint32_t upper = 8 + payloadLength;
  uint8_t* u = payload - 8;
  detail::WriteUdpHeader(u, sport, dport, upper);
  Put16(u + 6, Fold(detail::PseudoHeaderSum(src, dst, alen, upper)));
  return detail::WriteIpHeader(u, upper, src, dst, alen);
}

// RFC 1928 §7: RSV(2) FRAG(1) ATYP(1) DST.ADDR DST.PORT(2). Writes the header for an IPv4 (ATYP 1) or IPv6
// (ATYP 4) destination into `out` (22 bytes of room); returns its length.
inline uint32_t WriteSocksHeader(uint8_t* out, const uint8_t* addr, uint32_t alen, uint32_t port) {
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = alen == 4 ? 1 : 4;
  memcpy(out + 4, addr, alen);
  Put16(out + 4 + alen, port);
  return 6 + alen;
}

// Parses a SOCKS5 UDP header at `p` (`len` bytes). Returns the header length and sets addr/alen/port, or 0
// when the datagram is not one to deliver: too short, a fragment (FRAG ≠ 0: RFC 1928 §7, "an implementation
// that does not support fragmentation MUST drop any datagram whose FRAG field is other than X'00'"), or an
// address type other than IPv4/IPv6 (a domain name cannot be a packet's source).
inline uint32_t ParseSocksHeader(const uint8_t* p, uint32_t len, const uint8_t** addr, uint32_t* alen,
                                 uint32_t* port) {
  if (len < 4 || p[2] != 0) return 0;
  uint32_t a = p[3] == 1 ? 4 : p[3] == 4 ? 16 : 0;
  if (a == 0 || len < 6 + a) return 0;
  *addr = p + 4;
  *alen = a;
  *port = Get16(p + 4 + a);
  return 6 + a;
}

}  // namespace udp
}  // namespace ztun
