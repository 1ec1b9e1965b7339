// The splice relay's relay-thread state (native/splice_relay.cc owns the thread, its epoll and the command
// queue): the pairs it runs, the directions waiting for a pipe, the pipe pool, and what happens on each
// epoll event. Relay thread only, except the atomics, which JS reads through stats()/totals().

#pragma once

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pipe_pool.h"
#include "splice_pump.h"

namespace ztun {

enum Reason : int { kEof = 0, kError = 1, kCancelled = 2 };

// Where a finished pair's outcome goes (the JS side's thread-safe function).
class RelayReporter {
 public:
  virtual ~RelayReporter() = default;
  virtual void Report(uint32_t id, int reason, int side, int err, uint64_t bytesAtoB, uint64_t bytesBtoA) = 0;
};

class RelayCore {
 public:
  RelayCore(size_t maxIdlePipes, RelayReporter* reporter) : pool_(maxIdlePipes), reporter_(reporter) {}

  void SetEpoll(int epoll) { epoll_ = epoll; }
  bool HasWaiters() const { return !waiters_.empty(); }

  // A pair handed over by JS: registered on the epoll, then pumped once (bytes that arrived before the
  // hand-over raised no edge for us).
  void Start(Pair* p, std::vector<Pair*>& done) {
    pairs_[p->id] = p;
    running_.store(pairs_.size(), std::memory_order_relaxed);
    for (int s = 0; s < 2 && !p->finished; s++) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = &p->endpoints[s];
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, p->fds[s], &ev) != 0) Finish(p, kError, s, errno, done);
    }
    if (!p->finished) Pump(p, true, 0, true, done);
  }

  void Cancel(uint32_t id, std::vector<Pair*>& done) {
    auto it = pairs_.find(id);
    if (it != pairs_.end() && !it->second->finished) Finish(it->second, kCancelled, -1, 0, done);
  }

  // One epoll event for one socket of a pair.
  void OnEvent(Endpoint* endpoint, uint32_t ev, std::vector<Pair*>& done) {
    Pair* p = endpoint->pair;
    if (p->finished) return;
    if ((ev & EPOLLERR) != 0) {
      // A reset (or another socket error) is reported even when no splice would touch that socket now.
      for (int s = 0; s < 2 && !p->finished; s++) {
        int soErr = 0;
        socklen_t len = sizeof soErr;
        if (getsockopt(p->fds[s], SOL_SOCKET, SO_ERROR, &soErr, &len) == 0 && soErr != 0) {
          Finish(p, kError, s, soErr, done);
        }
      }
      if (p->finished) return;
    }
    // Readable: the direction reading this socket; writable: the one writing it. Only those can move.
    const uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    const uint32_t kWritable = EPOLLOUT | EPOLLHUP | EPOLLERR;
    Pump(p, (ev & kReadable) != 0, endpoint->side, (ev & kWritable) != 0, done);
  }

  // Drops every pair without a report (the relay is shutting down; the thread has stopped).
  void DropAll() {
    for (auto& entry : pairs_) {
      DropPipes(entry.second, pool_);
      delete entry.second;
    }
    pairs_.clear();
    waiters_.clear();
    running_.store(0, std::memory_order_relaxed);
    pool_.CloseIdle();
  }

  const PipePool& pool() const { return pool_; }
  int starved() const { return starved_.load(); }
  size_t running() const { return running_.load(std::memory_order_relaxed); }
  uint64_t totalAtoB() const { return totalAtoB_.load(std::memory_order_relaxed); }
  uint64_t totalBtoA() const { return totalBtoA_.load(std::memory_order_relaxed); }

  // Retries the directions that found no pipe, oldest first (each once per round).
  void ServeWaiters(std::vector<Pair*>& done) {
    for (size_t n = waiters_.size(); n > 0 && !waiters_.empty(); n--) {
      auto [id, i] = waiters_.front();
      waiters_.pop_front();
      auto it = pairs_.find(id);
      if (it == pairs_.end()) continue;
      Pair* p = it->second;
      p->dir[i].waiting = false;
      PumpDirection(p, i, done);
      if (!p->finished && p->dir[0].shutDown && p->dir[1].shutDown) Finish(p, kEof, -1, 0, done);
    }
    if (waiters_.empty()) starved_.store(0);
  }

 private:
  void Finish(Pair* p, int reason, int side, int err, std::vector<Pair*>& done) {
    p->finished = true;
    pairs_.erase(p->id);
    running_.store(pairs_.size(), std::memory_order_relaxed);
    // Off our epoll before JS hears of it: from the report on, Node may close (and reuse) these fds.
    // (EPOLL_CTL_DEL of an fd never added fails harmlessly.)
    for (int s = 0; s < 2; s++) epoll_ctl(epoll_, EPOLL_CTL_DEL, p->fds[s], nullptr);
    DropPipes(p, pool_);
    done.push_back(p);
    reporter_->Report(p->id, reason, side, err, p->dir[0].bytes, p->dir[1].bytes);
  }

  // Moves what can move now until every step would block: the direction reading socket `side` when it
  // became readable, the one writing it when it became writable (both directions on the first pump).
  void Pump(Pair* p, bool readable, int side, bool writable, std::vector<Pair*>& done) {
    bool run[2] = {false, false};
    if (readable) run[side] = true;
    if (writable) run[1 - side] = true;
    for (int i = 0; i < 2 && !p->finished; i++) {
      if (run[i]) PumpDirection(p, i, done);
    }
    if (!p->finished && p->dir[0].shutDown && p->dir[1].shutDown) Finish(p, kEof, -1, 0, done);
  }

  void PumpDirection(Pair* p, int i, std::vector<Pair*>& done) {
    bool progress = true;
    while (progress && !p->finished) {
      progress = false;
      int err = 0;
      int pipeErr = 0;
      uint64_t moved = 0;
      StepResult r = Step(p, i, pool_, &progress, &err, &pipeErr, &moved);
      if (moved > 0) (i == 0 ? totalAtoB_ : totalBtoA_).fetch_add(moved, std::memory_order_relaxed);
      if (r == StepResult::kNoPipe) {
        // Edge-triggered: nobody tells us again that the source has bytes, so the direction queues.
        starved_.store(pipeErr);
        if (!p->dir[i].waiting) {
          p->dir[i].waiting = true;
          waiters_.push_back({p->id, i});
        }
        return;
      }
      if (err != 0) Finish(p, kError, err > 0 ? 1 : 0, std::abs(err), done);
    }
  }

  int epoll_ = -1;
  std::unordered_map<uint32_t, Pair*> pairs_;
  std::deque<std::pair<uint32_t, int>> waiters_;
  PipePool pool_;
  RelayReporter* reporter_;
  // Out of pipes (the errno of the failed pipe2) while directions wait for one; read by add() on the JS thread.
  std::atomic<int> starved_{0};
  std::atomic<size_t> running_{0};  // pairs_.size(), for stats()
  std::atomic<uint64_t> totalAtoB_{0};
  std::atomic<uint64_t> totalBtoA_{0};
};

}  // namespace ztun
