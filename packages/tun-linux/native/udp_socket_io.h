// The syscalls of the batch UDP path (native/udp_relay.cc), no Node-API: the shared types, and one
// recvmmsg(2) into the shared slab, SOCKS5 framing checked and stripped, reply packets built in place
// (native/udp_frame.h). Sending: native/udp_send.h. recvmmsg(2), udp(7).
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdint>

#include "udp_frame.h"

namespace ztun {
namespace udp {

// Datagrams per sendmmsg/recvmmsg call (the slab has this many slots).
constexpr uint32_t kBatch = 64;

// stats(): datagrams sent, bytes sent, send drops (EAGAIN/ENOBUFS or outside the buffer), datagrams
// received, bytes received, foreign senders dropped, replies refused (another family, port 0, too big),
// GSO sends (sendmsg calls that carried a UDP_SEGMENT group of ≥ 2 datagrams, udp_send.h).
enum Stat { kSent, kSentBytes, kSendDrops, kReceived, kReceivedBytes, kForeign, kBadReply, kGsoSends, kStatCount };

// Who the socket talks to: the SOCKS5 relay (when socks5), and the client replies are built for (when
// clientLen ≠ 0, after replyTo()).
struct Peer {
  int family = 4;  // the socket's
  bool socks5 = false;
  uint8_t relayAddr[16] = {};
  uint32_t relayPort = 0;
  sockaddr_storage relay = {};
  socklen_t relayLen = 0;
  uint8_t client[16] = {};
  uint32_t clientLen = 0;
  uint32_t clientPort = 0;
};

// The receive slab shared by every relay: kBatch slots of slotSize bytes (kHeadroom, then the datagram),
// and per datagram delivered: offset and length (of the reply packet, or of the payload), and the sender
// (16 bytes, port | 0x10000 for IPv6) when no reply packet is built.
struct Slab {
  uint8_t* data = nullptr;
  uint32_t slotSize = 0;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  uint8_t* from = nullptr;
  uint32_t* fromPorts = nullptr;
};

inline bool AddrFrom(const sockaddr_storage& ss, const uint8_t** addr, uint32_t* alen, uint32_t* port) {
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    *addr = reinterpret_cast<const uint8_t*>(&sin->sin_addr);
    *alen = 4;
    *port = ntohs(sin->sin_port);
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    *addr = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
    *alen = 16;
    *port = ntohs(sin6->sin6_port);
    return true;
  }
  return false;
}

inline socklen_t SockaddrOf(sockaddr_storage* ss, int family, const uint8_t* addr, uint32_t port) {
  memset(ss, 0, sizeof(*ss));
  if (family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    memcpy(&sin->sin_addr, addr, 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  memcpy(&sin6->sin6_addr, addr, 16);
  return sizeof(sockaddr_in6);
}

struct RecvResult {
  int read;          // datagrams read; 0 = none waiting; < 0 = -errno of a failure worth reporting
  uint32_t out;      // entries in the slab's offsets/lengths
  uint32_t foreign;  // dropped: not from the SOCKS5 relay
  uint32_t bad;      // dropped: cannot become a reply packet
};

// One recvmmsg of up to kBatch datagrams into the slab, framed, checked and (with p.clientLen) built into
// reply packets in place.
inline RecvResult RecvBatch(int fd, const Peer& p, const Slab& s, uint64_t* stats) {
  RecvResult res{0, 0, 0, 0};
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage names[kBatch];
  memset(msgs, 0, sizeof(msgs));
  for (uint32_t i = 0; i < kBatch; ++i) {
    iov[i] = {s.data + i * s.slotSize + kHeadroom, s.slotSize - kHeadroom};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &names[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
  }
  int r;
  do r = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    // Nothing waiting; or an ICMP error queued on the socket (the datagram it was about is gone already).
    if (err == EAGAIN || err == EWOULDBLOCK) return res;
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
      res.read = 1;  // read again: more may be waiting behind it
      return res;
    }
    res.read = -err;
    return res;
  }
  res.read = r;
  for (int i = 0; i < r; ++i) {
    uint8_t* payload = s.data + i * s.slotSize + kHeadroom;
    uint32_t len = msgs[i].msg_len;
    const uint8_t* src;
    uint32_t alen, port;
    if (!AddrFrom(names[i], &src, &alen, &port)) continue;
    stats[kReceived] += 1;
    stats[kReceivedBytes] += len;
    if (p.socks5) {
      if (port != p.relayPort || alen != (p.family == 4 ? 4u : 16u) || memcmp(src, p.relayAddr, alen) != 0) {
        stats[kForeign] += 1;
        ++res.foreign;
        continue;
      }
      uint32_t hl = ParseSocksHeader(payload, len, &src, &alen, &port);
      if (hl == 0) continue;  // not a frame to deliver (the per-datagram path ignores it the same way)
      payload += hl;
      len -= hl;
    }
    uint32_t start = static_cast<uint32_t>(payload - s.data);
    if (p.clientLen != 0) {
      // A copy of the sender: with SOCKS5 it sits in the frame header, which the reply header overwrites.
      uint8_t from[16];
      memcpy(from, src, alen);
      if (p.clientLen == 4 && alen == 16) {
        // IPv4-mapped IPv6 (::ffff:a.b.c.d) for an IPv4 session, as the per-datagram path takes it.
        static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(src, kPrefix, 12) != 0) {
          stats[kBadReply] += 1;
          ++res.bad;
          continue;
        }
        memcpy(from, src + 12, 4);
        alen = 4;
      }
      if (alen != p.clientLen || port == 0 || len > kMaxReplyPayload) {
        stats[kBadReply] += 1;
        ++res.bad;
        continue;
      }
      uint8_t* packet = BuildReply(payload, len, from, port, p.client, p.clientPort, alen);
      start = static_cast<uint32_t>(packet - s.data);
      len += static_cast<uint32_t>(payload - packet);
    } else {
      memset(s.from + res.out * 16, 0, 16);
      memcpy(s.from + res.out * 16, src, alen);
      s.fromPorts[res.out] = port | (alen == 16 ? 0x10000u : 0u);
    }
    s.offsets[res.out] = start;
    s.lengths[res.out] = len;
    ++res.out;
  }
  return res;
}

}  // namespace udp
}  // namespace ztun
