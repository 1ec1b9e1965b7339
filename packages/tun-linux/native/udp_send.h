// The send half of the batch UDP path (native/udp_relay.cc), no Node-API: one session socket's batch of
// datagrams out with sendmmsg(2), SOCKS5 UDP request header (RFC 1928 §7) as an iovec in front of each
// payload (no copy). With UDP GSO (udp(7) UDP_SEGMENT, Linux 4.18+), consecutive datagrams of the batch that
// go to the same destination with the same length (the last of a run may be shorter) leave as ONE message:
// their iovecs in a row and a UDP_SEGMENT control message with that length, so the kernel builds one
// super-skb that crosses routing, netfilter and the device once and is cut into those very datagrams where
// it must be (the device's USO, software GSO, or the local receiver's udp_rcv_segment). With SOCKS5 the
// segment is header + payload: every segment carries its own frame header, so the relay sees exactly the
// datagrams the per-datagram path sends. A kernel or route that refuses GSO (EIO: no checksum offload on
// the egress device, or a transform; EINVAL/EMSGSIZE: a segment above the path MTU or too many segments)
// makes that group go again datagram by datagram, and the relay stops grouping (EIO, EOPNOTSUPP) or groups
// only shorter datagrams from then on (EINVAL, EMSGSIZE).
#pragma once

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdint>

#include "udp_frame.h"
#include "udp_socket_io.h"

namespace ztun {
namespace udp {

// Linux's UDP_MAX_SEGMENTS (include/linux/udp.h; 64 since 4.18, raised later: the old bound works on all).
constexpr uint32_t kMaxGsoSegments = 64;
// A group's bytes must fit one IPv4 datagram: 65535 - 20 (IPv4 header) - 8 (UDP header).
constexpr uint32_t kMaxGsoBytes = 65535 - 20 - 8;
// Datagrams per sendmmsg call (a GSO message holds several; every datagram takes ≤ 2 iovecs).
constexpr uint32_t kSendDatagrams = 256;

// Per relay: whether to group, and the largest segment the kernel has not refused yet.
struct GsoState {
  bool enabled = true;
  uint32_t maxSegment = kMaxGsoBytes;
};

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

namespace detail {

inline bool Fits(const SendBatchArgs& a, uint32_t i) {
  return static_cast<uint64_t>(a.offsets[i]) + a.lengths[i] <= a.dataLength;
}

// Datagram i's length on the wire (SOCKS5: with its frame header: 10 bytes for IPv4, 22 for IPv6).
inline uint32_t Framed(const Peer& p, const SendBatchArgs& a, uint32_t i) {
  return a.lengths[i] + (p.socks5 ? 6 + a.alen : 0);
}

inline bool SameDestination(const Peer& p, const SendBatchArgs& a, uint32_t i, uint32_t j) {
  if (p.socks5) return true;  // every frame goes to the relay; the address inside may differ
  return a.ports[i] == a.ports[j] && memcmp(a.dsts + 16 * i, a.dsts + 16 * j, a.alen) == 0;
}

}  // namespace detail

// Sends the batch; returns the number of errors listed. A full send buffer (EAGAIN/ENOBUFS) or a datagram
// outside `data` drops that datagram (kSendDrops; a GSO group's full buffer drops the group); the rest goes.
inline uint32_t SendBatch(int fd, const Peer& p, GsoState& gso, const SendBatchArgs& a, uint64_t* stats) {
  uint32_t errors = 0;
  mmsghdr msgs[kBatch];
  iovec iov[kSendDatagrams * 2];
  uint8_t headers[kSendDatagrams][22];
  sockaddr_storage names[kBatch];
  // One control message per GSO message: cmsghdr + the u16 segment size (udp(7)).
  alignas(cmsghdr) uint8_t control[kBatch][CMSG_SPACE(sizeof(uint16_t))];
  uint32_t first[kBatch], segs[kBatch];  // msgs[m] carries datagrams first[m] .. first[m] + segs[m] - 1
  uint64_t bytes[kBatch];
  for (uint32_t next = 0; next < a.count;) {
    uint32_t m = 0, used = 0;
    while (m < kBatch && next < a.count && used < kSendDatagrams) {
      uint32_t i = next;
      if (!detail::Fits(a, i)) {
        stats[kSendDrops] += 1;
        ++next;
        continue;
      }
      // The run that can share one message: same destination, same framed length (the last may be shorter).
      uint32_t size = detail::Framed(p, a, i), n = 1, total = size;
      if (gso.enabled && size > 0 && size <= gso.maxSegment) {
        while (n < kMaxGsoSegments && used + n < kSendDatagrams && i + n < a.count) {
          uint32_t j = i + n, len = detail::Framed(p, a, j);
          if (!detail::Fits(a, j) || len == 0 || len > size || total + len > kMaxGsoBytes ||
              !detail::SameDestination(p, a, i, j))
            break;
          total += len;
          ++n;
          if (len < size) break;
        }
      }
      mmsghdr& h = msgs[m];
      memset(&h, 0, sizeof(h));
      iovec* v = iov + used * 2;
      uint32_t nv = 0;
      uint64_t payload = 0;
      for (uint32_t k = 0; k < n; ++k) {
        uint32_t d = i + k;
        if (p.socks5) {
          uint32_t hl = WriteSocksHeader(headers[used + k], a.dsts + 16 * d, a.alen, a.ports[d]);
          v[nv++] = {headers[used + k], hl};
        }
        v[nv++] = {const_cast<uint8_t*>(a.data) + a.offsets[d], static_cast<size_t>(a.lengths[d])};
        payload += a.lengths[d];
      }
      if (p.socks5) {
        h.msg_hdr.msg_name = const_cast<sockaddr_storage*>(&p.relay);
        h.msg_hdr.msg_namelen = p.relayLen;
      } else {
        h.msg_hdr.msg_namelen = SockaddrOf(&names[m], p.family, a.dsts + 16 * i, a.ports[i]);
        h.msg_hdr.msg_name = &names[m];
      }
      h.msg_hdr.msg_iov = v;
      h.msg_hdr.msg_iovlen = nv;
      if (n > 1) {
        h.msg_hdr.msg_control = control[m];
        h.msg_hdr.msg_controllen = sizeof(control[m]);
        cmsghdr* c = CMSG_FIRSTHDR(&h.msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = static_cast<uint16_t>(size);
        memcpy(CMSG_DATA(c), &segment, sizeof(segment));
      }
      first[m] = i;
      segs[m] = n;
      bytes[m] = payload;
      ++m;
      used += n;
      next = i + n;
    }
    for (uint32_t done = 0; done < m;) {
      int r = sendmmsg(fd, msgs + done, m - done, MSG_DONTWAIT);
      if (r > 0) {
        for (int k = 0; k < r; ++k) {
          stats[kSent] += segs[done + k];
          stats[kSentBytes] += bytes[done + k];
          if (segs[done + k] > 1) stats[kGsoSends] += 1;
        }
        done += static_cast<uint32_t>(r);
        continue;
      }
      // The first message failed.
      int err = r < 0 ? errno : EIO;
      if (err == EINTR) continue;
      if (segs[done] > 1 && (err == EIO || err == EOPNOTSUPP || err == EINVAL || err == EMSGSIZE)) {
        // GSO refused: send this group and everything after it again, grouping less.
        if (err == EIO || err == EOPNOTSUPP) gso.enabled = false;
        else gso.maxSegment = detail::Framed(p, a, first[done]) - 1;
        next = first[done];
        break;
      }
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        stats[kSendDrops] += segs[done];  // the send buffer is full: lost, as on a full NIC queue
      } else if (errors < a.errCapacity) {
        a.errIndex[errors] = first[done];
        a.errCode[errors] = err;
        ++errors;
      }
      ++done;
    }
  }
  return errors;
}

}  // namespace udp
}  // namespace ztun
