// The syscall side of the packet hot path, free of Node: reads packets from a non-blocking packet fd into
// slots of a slab, writes packets (queueing what the kernel does not take now), and keeps the counters.
// native/tun_io.cc wires it to libuv and JS.
//
// Nothing here allocates per packet: reads land in the preallocated slab; the write queue is a ring of
// reusable buffers that only grow while warming up, and is used only after EAGAIN.
#pragma once

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "icmp_echo.h"
#include "vnet_header.h"

namespace ztun {

// The counters shared with JS in a Float64Array. JS takes their names and order from the addon's
// `counterNames` export, so this enum and the table under it are the only definition.
// gsoPacketsRead/Written: TCP super-packets (TSO) among rxPackets/txPackets. echoReplies: ICMP echo requests
// answered in the read path (icmp_echo.h), each among rxPackets and its reply among txPackets.
enum Counter : int {
  kRxPackets,
  kRxBytes,
  kTxPackets,
  kTxBytes,
  kRxDropped,
  kTxDropped,
  kGsoPacketsRead,
  kGsoPacketsWritten,
  kEchoReplies,
  kCounterCount
};
constexpr const char* kCounterNames[] = {"rxPackets",      "rxBytes",           "txPackets",  "txBytes", "rxDropped",
                                         "txDropped",      "gsoPacketsRead",    "gsoPacketsWritten",
                                         "echoReplies"};
static_assert(sizeof kCounterNames / sizeof kCounterNames[0] == kCounterCount, "one name per counter");

// Errors after which the fd is useless: the device vanished or the fd was closed under us.
inline bool IsFatal(int err) {
  return err == EBADF || err == EBADFD || err == ENODEV || err == ENXIO || err == EPIPE;
}

// Adds to a counter JS reads as a Float64Array element. With the write thread (tun_writer.h) two threads add
// to txDropped, so every add to a tx counter is an atomic read-modify-write on the double (relaxed: the
// counters order nothing; JS's plain 8-byte loads of an aligned element see either value).
inline void AddCounter(double* counter, double v) {
  double old;
  __atomic_load(counter, &old, __ATOMIC_RELAXED);
  double next;
  do {
    next = old + v;
  } while (!__atomic_compare_exchange(counter, &old, &next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

enum class WriteStatus { kOk, kAgain, kDropped, kFatal };

// One packet into the fd, the syscall alone (no counters, no reports), for both the inline path (PacketFd)
// and the write thread: kOk (*gso: written as a super-packet), kAgain (EAGAIN), kDropped (refused: bad
// offload metadata — *err 0 —, a short write, ENOBUFS, EINVAL, EIO… in *err), kFatal (the fd is useless, *err).
inline WriteStatus WritePacket(int fd, bool vnet, const uint8_t* packet, size_t length, PacketMeta meta, int* err,
                               bool* gso) {
  virtio_net_hdr hdr{};
  iovec iov[2];
  size_t total = length;
  *err = 0;
  *gso = false;
  if (vnet) {
    // A zeroed header: no GSO, the checksum is complete (the kernel verifies it as for any packet). A packet
    // that was partial on read goes back NEEDS_CSUM: the kernel's receiver trusts it (CHECKSUM_PARTIAL) and
    // a forwarding path completes it only if it must. A super-packet goes back as one, with its gso_size.
    // Flagged partial or GSO but not TCP/UDP right after the IP header: refused.
    if (!HeaderFor(packet, length, meta, &hdr)) return WriteStatus::kDropped;
    iov[0].iov_base = &hdr;
    iov[0].iov_len = kVnetHdrSize;
    iov[1].iov_base = const_cast<uint8_t*>(packet);
    iov[1].iov_len = length;
    total += kVnetHdrSize;
  }
  for (;;) {
    ssize_t n = vnet ? writev(fd, iov, 2) : write(fd, packet, length);
    if (n >= 0 && static_cast<size_t>(n) == total) {
      *gso = vnet && hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE;
      return WriteStatus::kOk;
    }
    // A short write: a TUN takes a packet whole or not at all (tun_get_user), but an adopted fd (a stream)
    // may cut it. What went out is no packet the peer can use: dropped, not sent.
    if (n >= 0) return WriteStatus::kDropped;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return WriteStatus::kAgain;
    *err = e;
    // ENOBUFS: the kernel could not allocate the skb (net/core/sock.c sock_alloc_send_pskb returns EAGAIN
    // only while the send buffer is full, ENOBUFS when the allocation fails). tun_chr_poll reports POLLOUT
    // from the send buffer alone, so waiting for writability would return at once and spin while memory
    // stays short. Drop it, as the kernel drops packets it has no memory for (send(2): "Normally, this does
    // not occur in Linux. Packets are just silently dropped when a device queue overflows."). A packet the
    // kernel refuses (EINVAL: not IPv4/IPv6, EMSGSIZE, EIO while the link is down): dropped too.
    return IsFatal(e) ? WriteStatus::kFatal : WriteStatus::kDropped;
  }
}

// What the owner hears about. Either call may run JS and may close the PacketFd before returning.
class PacketFdEvents {
 public:
  virtual ~PacketFdEvents() = default;
  // The fd is useless from now on (the queue is already dropped and counted).
  virtual void OnFatal(const char* operation, int err) = 0;
  // A write error worth reporting (EIO: the link went down), once per spell.
  virtual void OnWriteError(const char* operation, int err) = 0;
};

struct PacketSlots {
  uint8_t* slab;
  uint32_t* lengths;
  uint8_t* flags;      // one per slot; only with vnet headers
  uint16_t* gsoSizes;  // one per slot (0: a plain packet); only with vnet headers
  double* counters;
  uint32_t slotSize;
  uint32_t batchSize;
};

class PacketFd {
 public:
  PacketFd(int fd, bool vnet, PacketSlots slots, uint32_t queueLimit, PacketFdEvents* events)
      : fd_(fd), vnet_(vnet), s_(slots), queueLimit_(queueLimit), events_(events) {
    queue_.resize(queueLimit);
    queueMeta_.resize(queueLimit);
  }
  ~PacketFd() { Close(); }
  PacketFd(const PacketFd&) = delete;
  PacketFd& operator=(const PacketFd&) = delete;

  int fd() const { return fd_; }
  bool usable() const { return fd_ >= 0 && !failed_; }
  size_t queued() const { return queueSize_; }

  // Closes the fd (once) and drops the queue; returns how many queued packets were dropped (counted).
  size_t Close() {
    size_t dropped = DropQueue();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return dropped;
  }

  void CountDropped(double n) { AddCounter(&s_.counters[kTxDropped], n); }

  // Which families' echo requests ReadOne answers itself (kEchoIpv4 | kEchoIpv6; 0: none, all go to JS).
  void SetEchoFamilies(unsigned families) { echoFamilies_ = families; }

  // Writes one packet now, or queues it behind earlier queued packets (order is kept). True when written now.
  bool Submit(const uint8_t* packet, size_t length, PacketMeta meta) {
    if (!usable()) {
      CountDropped(1);
      return false;
    }
    if (queueSize_ > 0) {
      Enqueue(packet, length, meta);
      return false;
    }
    switch (WriteOne(packet, length, meta)) {
      case WriteResult::kOk:
        return true;
      case WriteResult::kAgain:
        Enqueue(packet, length, meta);
        return false;
      case WriteResult::kDropped:
      case WriteResult::kFatal:
        return false;
    }
    return false;
  }

  // Writes queued packets until the kernel says EAGAIN again.
  void Flush() {
    while (queueSize_ > 0 && usable()) {
      std::vector<uint8_t>& slot = queue_[queueHead_];
      WriteResult r = WriteOne(slot.data(), slot.size(), queueMeta_[queueHead_]);
      if (r == WriteResult::kAgain) return;   // still full: keep waiting for writability
      if (!usable() || queueSize_ == 0) return;  // closed by a listener, or failed (queue dropped)
      queueHead_ = (queueHead_ + 1) % queueLimit_;
      --queueSize_;
    }
    if (queueSize_ == 0) queueHead_ = 0;
  }

  // Reads one packet into slot `index`; returns its length, 0 when it was dropped or answered here (counted),
  // -1 when the fd is drained, -2 after a fatal error (reported).
  ssize_t ReadOne(uint32_t index, uint32_t* refused) {
    uint8_t* slot = s_.slab + static_cast<size_t>(index) * s_.slotSize;
    for (;;) {
      ssize_t n;
      virtio_net_hdr hdr;
      if (vnet_) {
        // The header lands apart from the packet, so the packet starts where the batch offsets point.
        iovec iov[2] = {{&hdr, kVnetHdrSize}, {slot, s_.slotSize}};
        n = readv(fd_, iov, 2);
        if (n > 0) {
          if (static_cast<size_t>(n) <= kVnetHdrSize) {
            s_.counters[kRxDropped] += 1;  // no packet
            return 0;
          }
          n -= static_cast<ssize_t>(kVnetHdrSize);
        }
      } else {
        n = read(fd_, slot, s_.slotSize);
      }
      if (n > 0 && static_cast<size_t>(n) >= s_.slotSize) {
        // Slots are larger than the MTU, so a full slot means the kernel cut a bigger packet: drop it.
        s_.counters[kRxDropped] += 1;
        return 0;
      }
      if (n > 0) {
        if (vnet_) {
          // A TCP super-packet (TSO) stays whole: its IP length fields already cover it, and it goes back as
          // one (HeaderFor); anything else GSO is dropped.
          PacketMeta meta;
          if (!ChecksumFlag(slot, static_cast<size_t>(n), hdr, &meta.flags) ||
              !GsoMeta(slot, static_cast<size_t>(n), hdr, &meta)) {
            s_.counters[kRxDropped] += 1;
            return 0;
          }
          s_.flags[index] = meta.flags;
          s_.gsoSizes[index] = meta.gsoSize;
          if (meta.gsoSize != 0) s_.counters[kGsoPacketsRead] += 1;
          if (meta.flags != 0 || meta.gsoSize != 0) return Deliver(index, n);  // never an echo request
        }
        if (echoFamilies_ != 0) {
          size_t reply = EchoReplyInPlace(slot, static_cast<size_t>(n), echoFamilies_);
          if (reply != 0) {
            s_.counters[kRxPackets] += 1;
            s_.counters[kRxBytes] += static_cast<double>(n);
            s_.counters[kEchoReplies] += 1;
            // Written here even with the write thread on (tun_writer.h): an echo reply may pass packets waiting
            // there, which no flow minds, and skips the thread's wake-up (its latency is the point).
            Submit(slot, reply, PacketMeta{});  // counted as sent, queued or dropped there
            return usable() ? 0 : -2;
          }
        }
        return Deliver(index, n);
      }
      if (n == 0) return -1;
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return -1;
      // Defensive: some kernels fail an oversize read with EFAULT (and free the packet) instead of cutting it.
      if ((err == EFAULT || err == EMSGSIZE || err == EINVAL) && ++*refused <= s_.batchSize) {
        s_.counters[kRxDropped] += 1;
        return 0;
      }
      Fail("read", err);
      return -2;
    }
  }

  // Marks the fd useless, drops and counts the queue, and tells the owner. Once.
  void Fail(const char* operation, int err) {
    if (failed_) return;
    failed_ = true;
    DropQueue();
    events_->OnFatal(operation, err);
  }

 private:
  enum class WriteResult { kOk, kAgain, kDropped, kFatal };

  // A packet read into slot `index` for JS: its length recorded and counted.
  ssize_t Deliver(uint32_t index, ssize_t n) {
    s_.lengths[index] = static_cast<uint32_t>(n);
    s_.counters[kRxPackets] += 1;
    s_.counters[kRxBytes] += static_cast<double>(n);
    return n;
  }

  size_t DropQueue() {
    size_t dropped = queueSize_;
    CountDropped(static_cast<double>(dropped));
    queueSize_ = 0;
    queueHead_ = 0;
    return dropped;
  }

  WriteResult WriteOne(const uint8_t* packet, size_t length, PacketMeta meta) {
    int err = 0;
    bool gso = false;
    switch (WritePacket(fd_, vnet_, packet, length, meta, &err, &gso)) {
      case WriteStatus::kOk:
        // Atomic adds: with the write thread (tun_writer.h) on, an echo reply answered in ReadOne is still
        // written here, on the JS thread, while the thread adds to the same counters.
        AddCounter(&s_.counters[kTxPackets], 1);
        AddCounter(&s_.counters[kTxBytes], static_cast<double>(length));
        if (gso) AddCounter(&s_.counters[kGsoPacketsWritten], 1);
        reportedEio_ = false;  // the next spell of EIO (link down again) is reported again
        return WriteResult::kOk;
      case WriteStatus::kAgain:
        return WriteResult::kAgain;
      case WriteStatus::kFatal:
        CountDropped(1);
        Fail("write", err);
        return WriteResult::kFatal;
      case WriteStatus::kDropped:
        break;
    }
    CountDropped(1);
    // EIO is also reported, once per spell, since it usually means the link went down under us.
    if (err == EIO && !reportedEio_) {
      reportedEio_ = true;
      events_->OnWriteError("write", err);
    }
    return WriteResult::kDropped;
  }

  void Enqueue(const uint8_t* packet, size_t length, PacketMeta meta) {
    if (queueSize_ >= queueLimit_) {
      CountDropped(1);
      return;
    }
    size_t index = (queueHead_ + queueSize_) % queueLimit_;
    queue_[index].assign(packet, packet + length);  // reuses the slot's capacity once warmed up
    queueMeta_[index] = meta;
    ++queueSize_;
  }

  int fd_;
  bool vnet_;
  PacketSlots s_;
  uint32_t queueLimit_;
  PacketFdEvents* events_;
  bool failed_ = false;
  bool reportedEio_ = false;
  unsigned echoFamilies_ = 0;
  std::vector<std::vector<uint8_t>> queue_;
  std::vector<PacketMeta> queueMeta_;
  size_t queueHead_ = 0;
  size_t queueSize_ = 0;
};

}  // namespace ztun
