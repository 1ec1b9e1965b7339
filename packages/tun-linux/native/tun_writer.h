// The TUN write thread (issue 17 item 6): JS hands each batch of packets to this thread, which writes them
// to the TUN one write(2) per packet, in order. A write into a TUN runs the receiving side of the kernel's
// network stack inside the call (tun_get_user → netif_receive_skb: for ztun's own listener the whole TCP
// handshake and accept queue work), so on the JS thread those writes cost ~20 % of a new connection; here
// they run on another core while JS goes on.
//
// Double buffer: JS appends copies of the packets to `fill_` under a mutex; the thread swaps `fill_` with its
// `drain_` and writes `drain_` outside the lock, so JS never overwrites a packet being written and needs the
// lock only for the copies. One eventfd write per wake-up, not per batch: while a wake is on its way, later
// batches ride on it (the same scheme as splice_relay.cc). The buffers only grow while warming up; beyond
// `limit` packets (or kMaxPendingBytes) handed over and not yet written, a packet is dropped and counted in txDropped, as the
// inline path's queue does. Waiting for room (EAGAIN) happens here, in poll(2), never on the JS thread.
//
// Counters: the thread adds txPackets/txBytes/gsoPacketsWritten/txDropped into the Float64Array JS reads; JS
// adds to txDropped too, so every add here is an atomic read-modify-write (AddCounter). Errors: the thread
// only records them (fatal(), TakeEio()); the JS thread reports them at its next call or poll wake-up.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "packet_fd.h"

namespace ztun {

class TunWriter {
 public:
  TunWriter(int fd, bool vnet, double* counters, uint32_t limit)
      : fd_(fd), vnet_(vnet), counters_(counters), limit_(limit == 0 ? 1 : limit) {}
  ~TunWriter() { Stop(); }
  TunWriter(const TunWriter&) = delete;
  TunWriter& operator=(const TunWriter&) = delete;

  // Starts the thread; false (errno set) when its eventfd cannot be made.
  bool Start() {
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return false;
    thread_ = std::thread([this] { Loop(); });
    return true;
  }

  // JS thread: copies one packet behind those already handed over. False when dropped (counted).
  bool Append(const uint8_t* packet, size_t length, PacketMeta meta) {
    if (fatal_.load(std::memory_order_relaxed) != 0) {
      AddCounter(&counters_[kTxDropped], 1);
      return false;
    }
    // Handed over and not yet written: at most limit_ packets and kMaxPendingBytes bytes.
    if (pending_.load(std::memory_order_relaxed) >= limit_ ||
        pendingBytes_.load(std::memory_order_relaxed) + length > kMaxPendingBytes) {
      AddCounter(&counters_[kTxDropped], 1);
      return false;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    fill_.entries.push_back({fill_.bytes.size(), length, meta});
    fill_.bytes.insert(fill_.bytes.end(), packet, packet + length);
    pending_.fetch_add(1, std::memory_order_relaxed);
    pendingBytes_.fetch_add(length, std::memory_order_relaxed);
    return true;
  }

  // JS thread, after a batch of Appends: wakes the thread unless a wake is already on its way.
  void Wake() {
    if (wakePending_.exchange(true)) return;
    uint64_t one = 1;
    ssize_t n = write(wake_, &one, sizeof one);
    (void)n;  // EAGAIN only when the counter is saturated: the thread is awake anyway
  }

  // Stops and joins the thread; packets not yet written are dropped and counted. Returns their number.
  // Idempotent. Runs on the JS thread (close, environment teardown).
  size_t Stop() {
    if (thread_.joinable()) {
      stop_.store(true);
      uint64_t one = 1;
      ssize_t n = write(wake_, &one, sizeof one);
      (void)n;
      thread_.join();
    }
    if (wake_ >= 0) close(wake_);
    wake_ = -1;
    size_t dropped = pending_.exchange(0);
    pendingBytes_.store(0);
    fill_ = Slab{};  // the thread is gone: nobody else touches them
    drain_ = Slab{};
    if (dropped > 0) AddCounter(&counters_[kTxDropped], static_cast<double>(dropped));
    return dropped;
  }

  // Packets handed over and not yet written (or dropped).
  size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  // The errno after which the fd is useless (0: none); the thread drops everything after it.
  int fatal() const { return fatal_.load(std::memory_order_relaxed); }
  // True once per spell of EIO (the link went down): to be reported by the JS thread.
  bool TakeEio() { return eio_.exchange(false, std::memory_order_relaxed); }

 private:
  struct Entry {
    size_t offset;
    size_t length;
    PacketMeta meta;
  };
  struct Slab {
    std::vector<uint8_t> bytes;
    std::vector<Entry> entries;
  };

  // ---- writer thread ----
  void Loop() {
    while (!stop_.load()) {
      wakePending_.store(false);  // before taking fill_: a batch appended after this wakes again
      {
        std::lock_guard<std::mutex> lock(mutex_);
        std::swap(fill_, drain_);
      }
      if (drain_.entries.empty()) {
        WaitFor(false);
        continue;
      }
      for (const Entry& e : drain_.entries) {
        // Stopped: Stop() counts what is left through pending_.
        if (stop_.load() || !WriteEntry(drain_.bytes.data() + e.offset, e.length, e.meta)) break;
        pending_.fetch_sub(1, std::memory_order_relaxed);
        pendingBytes_.fetch_sub(e.length, std::memory_order_relaxed);
      }
      drain_.entries.clear();
      drain_.bytes.clear();
      // A burst of super-packets may have grown the buffer to megabytes: give that back (issue 17 item 2).
      if (drain_.bytes.capacity() > kKeepBytes) std::vector<uint8_t>().swap(drain_.bytes);
    }
  }

  // Blocks until the eventfd is readable (and consumes it), or with `writable` also until the TUN takes writes.
  void WaitFor(bool writable) {
    pollfd fds[2] = {{wake_, POLLIN, 0}, {fd_, POLLOUT, 0}};
    int n = poll(fds, writable ? 2 : 1, -1);
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t value;
      ssize_t r = read(wake_, &value, sizeof value);
      (void)r;
    }
  }

  // Writes one packet, or counts it as dropped. False only when Stop() came while waiting for writability.
  bool WriteEntry(const uint8_t* packet, size_t length, PacketMeta meta) {
    if (fatal_.load(std::memory_order_relaxed) != 0) {
      AddCounter(&counters_[kTxDropped], 1);
      return true;
    }
    for (;;) {
      int err = 0;
      bool gso = false;
      WriteStatus s = WritePacket(fd_, vnet_, packet, length, meta, &err, &gso);
      switch (s) {
        case WriteStatus::kOk:
          AddCounter(&counters_[kTxPackets], 1);
          AddCounter(&counters_[kTxBytes], static_cast<double>(length));
          if (gso) AddCounter(&counters_[kGsoPacketsWritten], 1);
          eioSpell_ = false;
          return true;
        case WriteStatus::kAgain:
          // The TUN's send buffer is full: wait for it (or for Stop) and try the same packet again.
          WaitFor(true);
          if (stop_.load()) return false;
          continue;
        case WriteStatus::kDropped:
          AddCounter(&counters_[kTxDropped], 1);
          if (err == EIO && !eioSpell_) {
            eioSpell_ = true;
            eio_.store(true, std::memory_order_relaxed);
          }
          return true;
        case WriteStatus::kFatal:
          AddCounter(&counters_[kTxDropped], 1);
          fatal_.store(err, std::memory_order_relaxed);
          return true;
      }
    }
  }

  // Bytes waiting at most (a few loop turns of 64 KiB super-packets), and the most a buffer keeps when idle.
  static constexpr size_t kMaxPendingBytes = 32u << 20;
  static constexpr size_t kKeepBytes = 1u << 20;

  int fd_;
  bool vnet_;
  double* counters_;
  uint32_t limit_;
  int wake_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> wakePending_{false};
  std::atomic<size_t> pending_{0};
  std::atomic<size_t> pendingBytes_{0};
  std::atomic<int> fatal_{0};
  std::atomic<bool> eio_{false};
  bool eioSpell_ = false;  // writer thread only
  std::mutex mutex_;
  Slab fill_;   // JS appends (under mutex_)
  Slab drain_;  // the writer thread's
};

}  // namespace ztun
