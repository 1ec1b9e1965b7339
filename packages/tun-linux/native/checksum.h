// The Internet checksum (RFC 1071) for the addon's packet code — the TUN read path finishing a partial checksum
// (vnet_header.h), the UDP batch path building reply headers (udp_frame.h), echo replies (icmp_echo.h) — and
// the big-endian 16-bit field access they share.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace ztun {

// A big-endian (network order) 16-bit field.
inline uint32_t Get16(const uint8_t* p) { return (static_cast<uint32_t>(p[0]) << 8) | p[1]; }
inline void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// One's-complement sum of `len` bytes as big-endian 16-bit words (an odd last byte padded with zero), added to
// `sum`, not folded. Eight bytes per step: each 16-bit lane byte-swapped, the 32-bit halves summed into 64 bits.
inline uint64_t SumBytes(const uint8_t* p, size_t len, uint64_t sum) {
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w = ((w & 0x00ff00ff00ff00ffULL) << 8) | ((w >> 8) & 0x00ff00ff00ff00ffULL);
    sum += (w & 0xffffffffULL) + (w >> 32);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    sum += (static_cast<uint32_t>(p[0]) << 8) | p[1];
    p += 2;
    len -= 2;
  }
  if (len == 1) sum += static_cast<uint32_t>(p[0]) << 8;
  return sum;
}

// Folds a sum to 16 bits (end-around carry).
inline uint16_t Fold(uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace ztun
