// The syscalls of the batch UDP path (native/udp_relay.cc), no Node-API: one session socket's batch of
// datagrams out with sendmmsg(2) (SOCKS5 UDP request header, RFC 1928 §7, as a second iovec: no copy), and
// one recvmmsg(2) into the shared slab, SOCKS5 framing checked and stripped, reply packets built in place
// (native/udp_frame.h). sendmmsg(2), recvmmsg(2), udp(7).
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
// received, bytes received, foreign senders dropped, replies refused (another family, port 0, too big).
enum Stat { kSent, kSentBytes, kSendDrops, kReceived, kReceivedBytes, kForeign, kBadReply, kStatCount };

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

// What send() was given: datagram i = data[offsets[i], +lengths[i]) to dsts[16i…] (alen bytes) port ports[i].
struct SendBatchArgs {
  const uint8_t* data;
  size_t dataLength;
  const uint32_t* offsets;
  const uint32_t* lengths;
  const uint8_t* dsts;
  const uint32_t* ports;
  uint32_t count;
  uint32_t alen;
  uint32_t* errIndex;  // errors other than a full buffer: (index, errno), up to errCapacity
  int32_t* errCode;
  uint32_t errCapacity;
};

// Sends the batch, kBatch per sendmmsg; returns the number of errors listed. A full send buffer
// (EAGAIN/ENOBUFS) or a datagram outside `data` drops that datagram (kSendDrops); the rest still goes.
inline uint32_t SendBatch(int fd, const Peer& p, const SendBatchArgs& a, uint64_t* stats) {
  uint32_t errors = 0;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch][2];
  sockaddr_storage names[kBatch];
  uint8_t headers[kBatch][22];
  uint32_t index[kBatch];  // msgs[m] is datagram index[m]
  for (uint32_t next = 0; next < a.count;) {
    uint32_t m = 0;
    for (; m < kBatch && next < a.count; ++next) {
      uint32_t i = next;
      uint64_t off = a.offsets[i], len = a.lengths[i];
      if (off + len > a.dataLength) {
        stats[kSendDrops] += 1;
        continue;
      }
      mmsghdr& h = msgs[m];
      memset(&h, 0, sizeof(h));
      const uint8_t* dst = a.dsts + 16 * i;
      if (p.socks5) {
        uint32_t hl = WriteSocksHeader(headers[m], dst, a.alen, a.ports[i]);
        iov[m][0] = {headers[m], hl};
        iov[m][1] = {const_cast<uint8_t*>(a.data) + off, static_cast<size_t>(len)};
        h.msg_hdr.msg_name = const_cast<sockaddr_storage*>(&p.relay);
        h.msg_hdr.msg_namelen = p.relayLen;
        h.msg_hdr.msg_iovlen = 2;
      } else {
        iov[m][0] = {const_cast<uint8_t*>(a.data) + off, static_cast<size_t>(len)};
        h.msg_hdr.msg_namelen = SockaddrOf(&names[m], p.family, dst, a.ports[i]);
        h.msg_hdr.msg_name = &names[m];
        h.msg_hdr.msg_iovlen = 1;
      }
      h.msg_hdr.msg_iov = iov[m];
      index[m++] = i;
    }
    for (uint32_t done = 0; done < m;) {
      int r = sendmmsg(fd, msgs + done, m - done, MSG_DONTWAIT);
      if (r > 0) {
        for (int k = 0; k < r; ++k) {
          stats[kSent] += 1;
          stats[kSentBytes] += a.lengths[index[done + k]];
        }
        done += static_cast<uint32_t>(r);
        continue;
      }
      // The first datagram failed: count or list it and go on with the next.
      int err = r < 0 ? errno : EIO;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        stats[kSendDrops] += 1;  // the send buffer is full: lost, as on a full NIC queue
      } else if (errors < a.errCapacity) {
        a.errIndex[errors] = index[done];
        a.errCode[errors] = err;
        ++errors;
      }
      ++done;
    }
  }
  return errors;
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
