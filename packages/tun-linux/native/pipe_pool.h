// The splice relay's pipes (issue 17 item 1). A direction needs a pipe only while bytes are in it: it takes
// one when its source socket has something to read and gives it back as soon as the pipe is empty again
// (splice(2) socket → pipe → socket usually drains it in the same round). So an idle relayed connection holds
// no pipe at all — only its two sockets — and the process holds busy pipes (one per direction whose
// destination is not keeping up) plus at most `maxIdle` idle ones kept for reuse.
//
// Relay thread only, except the counters, which JS reads (atomics). A pipe handed back must be empty: the
// next direction that takes it must not receive another connection's bytes.

#pragma once

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ztun {

struct Pipe {
  int r = -1;
  int w = -1;
  size_t cap = 0;  // bytes the pipe holds (F_GETPIPE_SZ)
  bool open() const { return r >= 0; }
};

class PipePool {
 public:
  explicit PipePool(size_t maxIdle) : maxIdle_(maxIdle) {}
  ~PipePool() { CloseIdle(); }

  // An idle pipe, else a new one sized `size` bytes (the kernel rounds up to pages; when it refuses —
  // pipe-max-size, the per-user pipe quota, fcntl(2) F_SETPIPE_SZ — the default 64 KiB pipe is used).
  // False with *err = errno when pipe2(2) fails (EMFILE, ENFILE, ENOMEM): the caller waits for a pipe.
  bool Acquire(size_t size, Pipe* out, int* err) {
    if (!idle_.empty()) {
      *out = idle_.back();
      idle_.pop_back();
      idleCount_.store(idle_.size(), std::memory_order_relaxed);
      busy_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      *err = errno;
      return false;
    }
    int got = size > 0 ? fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(size)) : -1;
    if (got < 0) got = fcntl(fds[1], F_GETPIPE_SZ);
    *out = Pipe{fds[0], fds[1], got > 0 ? static_cast<size_t>(got) : 65536};
    created_.fetch_add(1, std::memory_order_relaxed);
    busy_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // Gives back an EMPTY pipe: kept for reuse while fewer than maxIdle are idle, else closed.
  void Release(Pipe& p) {
    if (!p.open()) return;
    busy_.fetch_sub(1, std::memory_order_relaxed);
    if (idle_.size() < maxIdle_) {
      idle_.push_back(p);
      idleCount_.store(idle_.size(), std::memory_order_relaxed);
    } else {
      Close(p);
    }
    p = Pipe{};
  }

  // Closes a pipe that may still hold bytes (its pair ended with an error or a cancel).
  void Discard(Pipe& p) {
    if (!p.open()) return;
    busy_.fetch_sub(1, std::memory_order_relaxed);
    Close(p);
    p = Pipe{};
  }

  void CloseIdle() {
    for (Pipe& p : idle_) Close(p);
    idle_.clear();
    idleCount_.store(0, std::memory_order_relaxed);
  }

  bool HasIdle() const { return !idle_.empty(); }
  size_t maxIdle() const { return maxIdle_; }
  // Read from any thread.
  size_t idleCount() const { return idleCount_.load(std::memory_order_relaxed); }
  size_t busyCount() const { return busy_.load(std::memory_order_relaxed); }
  uint64_t createdCount() const { return created_.load(std::memory_order_relaxed); }

 private:
  static void Close(Pipe& p) {
    close(p.r);
    close(p.w);
  }

  size_t maxIdle_;
  std::vector<Pipe> idle_;
  std::atomic<size_t> idleCount_{0};
  std::atomic<size_t> busy_{0};
  std::atomic<uint64_t> created_{0};
};

}  // namespace ztun
