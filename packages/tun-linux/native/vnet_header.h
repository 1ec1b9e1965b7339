// The virtio_net_hdr that prefixes every packet of an IFF_VNET_HDR TUN (the device's `offload` option), and
// the checksum helpers the read and write paths need for it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "checksum.h"

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
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr uint8_t VIRTIO_NET_HDR_GSO_UDP_L4 = 5;  // USO: include/uapi/linux/virtio_net.h, Linux 6.2
constexpr uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;
constexpr size_t kVnetHdrSize = sizeof(virtio_net_hdr);

// Per-packet flag bits shared with JS (PacketBatch.flags, docs/architecture.md).
constexpr uint8_t kChecksumPartial = 1;
// A TCP super-packet (gsoSize > 0) whose first segment may carry CWR (VIRTIO_NET_HDR_GSO_ECN, TUN_F_TSO_ECN):
// segmenting keeps CWR on the first segment only (net/ipv4/tcp_offload.c tcp_gso_segment).
constexpr uint8_t kGsoEcn = 2;

// What travels with a packet between a read and its write: the flag bits and the GSO segment size (payload
// bytes per segment; 0 = one plain packet).
struct PacketMeta {
  uint8_t flags = 0;
  uint16_t gsoSize = 0;
};
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
  uint16_t check = static_cast<uint16_t>(~Fold(SumBytes(p + start, length - start, 0)));
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

// Checks the GSO part of a header read from the TUN and records it: gso_type NONE → gsoSize 0; TCPV4 on an
// IPv4 or TCPV6 on an IPv6 packet, NEEDS_CSUM on the TCP checksum right after the IP header (as the kernel
// sends every TSO skb: virtio_net_hdr_from_skb) → gsoSize and kGsoEcn. Anything else (USO, UFO: never
// advertised) is false: the caller drops it. Call after ChecksumFlag set `meta->flags`.
inline bool GsoMeta(const uint8_t* p, size_t length, const virtio_net_hdr& hdr, PacketMeta* meta) {
  meta->gsoSize = 0;
  if (hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE) return true;
  uint8_t type = hdr.gso_type & static_cast<uint8_t>(~VIRTIO_NET_HDR_GSO_ECN);
  uint8_t version = length > 0 ? p[0] >> 4 : 0;
  uint16_t start;
  uint16_t offset;
  if (!((type == VIRTIO_NET_HDR_GSO_TCPV4 && version == 4) || (type == VIRTIO_NET_HDR_GSO_TCPV6 && version == 6)) ||
      hdr.gso_size == 0 || (meta->flags & kChecksumPartial) == 0 ||
      !StandardChecksumLayout(p, length, &start, &offset) || offset != 16) {
    return false;
  }
  meta->gsoSize = hdr.gso_size;
  if ((hdr.gso_type & VIRTIO_NET_HDR_GSO_ECN) != 0) meta->flags |= kGsoEcn;
  return true;
}

// The header to write `p` with: zeroed (a complete packet), NEEDS_CSUM for a partial checksum, and for a TCP
// super-packet gso_type TCPV4/TCPV6 (+ ECN), gso_size and hdr_len = IP + TCP header (include/linux/
// virtio_net.h virtio_net_hdr_to_skb: the kernel then takes it as one skb and segments it only if it must).
// A UDP super-packet (the batch UDP path's replies; the device must take them: TunIo.usoWritable) gets
// gso_type UDP_L4, hdr_len = IP + UDP header; the kernel cuts it into datagrams of gso_size payload bytes
// (net/ipv4/udp_offload.c __udp_gso_segment), and virtio_net_hdr_to_skb wants it NEEDS_CSUM at the UDP
// checksum. False: flagged partial or GSO but not TCP/UDP right after the IP header.
inline bool HeaderFor(const uint8_t* p, size_t length, PacketMeta meta, virtio_net_hdr* hdr) {
  *hdr = virtio_net_hdr{};
  bool partial = (meta.flags & kChecksumPartial) != 0;
  if (!partial && meta.gsoSize == 0) return true;
  uint16_t start;
  uint16_t offset;
  if (!StandardChecksumLayout(p, length, &start, &offset)) return false;
  if (partial) {
    hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr->csum_start = start;
    hdr->csum_offset = offset;
  }
  if (meta.gsoSize != 0) {
    if (offset == 6) {  // UDP
      if (!partial || static_cast<size_t>(start) + 8 > length) return false;
      hdr->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
      hdr->gso_size = meta.gsoSize;
      hdr->hdr_len = static_cast<uint16_t>(start + 8);
      return true;
    }
    if (offset != 16 || static_cast<size_t>(start) + 20 > length) return false;
    size_t tcpHeader = static_cast<size_t>(p[start + 12] >> 4) * 4;
    hdr->gso_type = (p[0] >> 4) == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
    if ((meta.flags & kGsoEcn) != 0) hdr->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    hdr->gso_size = meta.gsoSize;
    hdr->hdr_len = static_cast<uint16_t>(start + tcpHeader);
  }
  return true;
}

}  // namespace ztun
