// The virtio_net_hdr that prefixes every packet of an IFF_VNET_HDR TUN (the device's `offload` option), and
// the checksum helpers the read and write paths need for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ztun {

// TUNSETVNETHDRSZ 10; fields in the host's byte order: legacy virtio is little-endian and so are the hosts
// ztun runs on, x86-64 and arm64.
// (Declared here: <linux/virtio_net.h> does not compile as C++, it has a field named `class`.)
struct virtio_net_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr size_t kVnetHdrSize = sizeof(virtio_net_hdr);

// Per-packet flag bits shared with JS (PacketBatch.flags, docs/architecture.md).
constexpr uint8_t kChecksumPartial = 1;
static_assert(kVnetHdrSize == 10, "struct virtio_net_hdr is 10 bytes");

// Where a TCP/UDP checksum that covers the pseudo header lives when the transport header directly follows
// the IP header (the only layout flagged partial): sets start/offset and returns true.
inline bool StandardChecksumLayout(const uint8_t* p, size_t length, uint16_t* start, uint16_t* offset) {
  if (length < 20) return false;
  uint8_t proto;
  size_t l4;
  if ((p[0] >> 4) == 4) {
    l4 = static_cast<size_t>(p[0] & 0x0f) * 4;
    proto = p[9];
  } else if ((p[0] >> 4) == 6 && length >= 40) {
    l4 = 40;
    proto = p[6];
  } else {
    return false;
  }
  size_t at = proto == 6 ? 16 : proto == 17 ? 6 : 0;
  if (at == 0 || l4 + at + 2 > length) return false;
  *start = static_cast<uint16_t>(l4);
  *offset = static_cast<uint16_t>(at);
  return true;
}

// Finishes a partial checksum in place, as a NIC would: the one's-complement sum of p[start, length) (the
// field already holds the pseudo-header sum), complemented, stored at start + offset.
inline void CompleteChecksum(uint8_t* p, size_t length, size_t start, size_t offset) {
  uint64_t sum = 0;
  size_t i = start;
  for (; i + 1 < length; i += 2) sum += (static_cast<uint32_t>(p[i]) << 8) | p[i + 1];
  if (i < length) sum += static_cast<uint32_t>(p[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t check = static_cast<uint16_t>(~sum & 0xffff);
  p[start + offset] = static_cast<uint8_t>(check >> 8);
  p[start + offset + 1] = static_cast<uint8_t>(check);
}

// The per-packet flag for a packet read with header `hdr`: kChecksumPartial when the checksum left to do is
// the TCP/UDP one right after the IP header (consumers handle that layout); any other NEEDS_CSUM layout
// (IPv6 extension headers…) is finished here, so consumers see a plain packet. False: an unusable header.
inline bool ChecksumFlag(uint8_t* p, size_t length, const virtio_net_hdr& hdr, uint8_t* flag) {
  *flag = 0;
  if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0) return true;
  uint16_t start;
  uint16_t offset;
  if (StandardChecksumLayout(p, length, &start, &offset) && start == hdr.csum_start && offset == hdr.csum_offset) {
    *flag = kChecksumPartial;
    return true;
  }
  if (static_cast<size_t>(hdr.csum_start) + hdr.csum_offset + 2 > length) return false;
  CompleteChecksum(p, length, hdr.csum_start, hdr.csum_offset);
  return true;
}

}  // namespace ztun
