// Zero-copy TCP relay for Linux: moves bytes between two connected sockets with splice(2) through a pipe per
// busy direction (socket → pipe → socket), so the payload never crosses into user space. One relay thread per
// SpliceRelay object (JS keeps one per process) waits on its own epoll; JS hands it pairs of socket fds and
// learns the outcome of each pair through a thread-safe function: bytes each way and why it ended (both
// sides finished, an error on one side, or a cancel from JS).
//
// File descriptors (issue 17 item 1): the relay works on Node's own socket fds (no dup) and takes pipes from
// a pool only while bytes are in them (pipe_pool.h, splice_pump.h), so an idle relayed connection costs its two
// sockets and nothing else. JS keeps Node from closing a handed-over socket until the pair is reported
// finished (src/splice.linux.ts), and the relay never touches a pair's fds after reporting it.
//
// Ownership: a pair's struct and pipes belong to the relay thread from the moment JS adds it. JS only posts
// commands (add / cancel / close) into a queue guarded by a mutex and wakes the thread through an eventfd.

#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "js_call.h"
#include "pipe_pool.h"
#include "splice_pump.h"

namespace {

enum Reason : int { kEof = 0, kError = 1, kCancelled = 2 };

struct Completion {
  uint32_t id;
  int reason;
  int side;  // 0: socket A, 1: socket B, -1: none
  int err;
  double bytesAtoB;
  double bytesBtoA;
};

using ztun::Direction;
using ztun::Endpoint;
using ztun::Pair;
using ztun::PipePool;

// Idle pipes kept for reuse (each is two fds); busy ones are one per direction whose destination lags.
constexpr size_t kDefaultMaxIdlePipes = 8;

struct Command {
  enum Kind { kAdd, kCancel } kind;
  Pair* pair;
  uint32_t id;
};

// Runs on the JS thread for each completion (env is null when the thread-safe function is torn down with
// completions still queued: they are only freed). Plain C API (js_call.h): during environment teardown the
// call reports kNoJs and the completion is dropped, never thrown into a dying environment (issue 10 item 6).
void CallJs(Napi::Env env, Napi::Function callback, void*, Completion* c) {
  if (env != nullptr && callback != nullptr) {
    ztun::RawHandleScope scope(env);
    napi_value args[6] = {};
    napi_create_uint32(env, c->id, &args[0]);
    napi_create_int32(env, c->reason, &args[1]);
    napi_create_int32(env, c->side, &args[2]);
    napi_create_int32(env, c->err, &args[3]);
    napi_create_double(env, c->bytesAtoB, &args[4]);
    napi_create_double(env, c->bytesBtoA, &args[5]);
    napi_value undefined = nullptr;
    napi_get_undefined(env, &undefined);
    napi_status status = napi_call_function(env, undefined, callback, 6, args, nullptr);
    // A throw goes to 'uncaughtException' like any callback's (left pending, Node would only warn, DEP0168).
    if (ztun::Classify(env, status) == ztun::JsCall::kThrew) ztun::ReportUncaught(env);
  }
  delete c;
}

using Tsfn = Napi::TypedThreadSafeFunction<void, Completion, CallJs>;

class SpliceRelay : public Napi::ObjectWrap<SpliceRelay> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SpliceRelay",
                       {
                           InstanceMethod<&SpliceRelay::Add>("add"),
                           InstanceMethod<&SpliceRelay::Cancel>("cancel"),
                           InstanceMethod<&SpliceRelay::Totals>("totals"),
                           InstanceMethod<&SpliceRelay::Stats>("stats"),
                           InstanceMethod<&SpliceRelay::Close>("close"),
                       });
  }

  // new SpliceRelay(onDone(id, reason, side, errno, bytesAtoB, bytesBtoA), maxIdlePipes?)
  explicit SpliceRelay(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<SpliceRelay>(info), pool_(MaxIdleArg(info)) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "SpliceRelay: expected a callback").ThrowAsJavaScriptException();
      return;
    }
    tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "ztun splice relay", 0, 1);
    // The relay never keeps the process alive by itself: the Node sockets of a pair do that.
    tsfn_.Unref(env);
    hasTsfn_ = true;
    env_ = env;
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    cleanupHook_ = true;
    // Its epoll and eventfd now, not at the first add: a relay that runs out of fds later still has them.
    EnsureThread(env);
  }

  ~SpliceRelay() override { Shutdown(); }

 private:
  static size_t MaxIdleArg(const Napi::CallbackInfo& info) {
    if (info.Length() >= 2 && info[1].IsNumber()) {
      int64_t n = info[1].As<Napi::Number>().Int64Value();
      if (n >= 0 && n <= 4096) return static_cast<size_t>(n);
    }
    return kDefaultMaxIdlePipes;
  }

  static void CleanupHook(void* arg) {
    auto* self = static_cast<SpliceRelay*>(arg);
    self->cleanupHook_ = false;
    self->Shutdown();
  }

  // Stops the thread (pairs still running are dropped without a report) and releases everything. Idempotent.
  void Shutdown() {
    if (thread_.joinable()) {
      stop_.store(true);
      Wake();
      thread_.join();
    }
    for (auto& entry : pairs_) {
      ztun::DropPipes(entry.second, pool_);
      delete entry.second;
    }
    pairs_.clear();
    waiters_.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (Command& c : commands_) {
        if (c.kind == Command::kAdd) delete c.pair;
      }
      commands_.clear();
    }
    pool_.CloseIdle();
    CloseFd(epoll_);
    CloseFd(wake_);
    if (hasTsfn_) {
      hasTsfn_ = false;
      tsfn_.Abort();
    }
    if (cleanupHook_) {
      cleanupHook_ = false;
      napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    }
    closed_ = true;
  }

  static void CloseFd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void ThrowErrno(Napi::Env env, const char* what, int err) {
    Napi::Error e = Napi::Error::New(env, std::string(what) + " failed: errno " + std::to_string(err));
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("operation", Napi::String::New(env, what));
    e.ThrowAsJavaScriptException();
  }

  // Starts the thread (at construction; again after a failure there).
  bool EnsureThread(Napi::Env env) {
    if (thread_.joinable()) return true;
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      ThrowErrno(env, "epoll_create1", errno);
      return false;
    }
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) {
      ThrowErrno(env, "eventfd", errno);
      CloseFd(epoll_);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0) {
      ThrowErrno(env, "epoll_ctl", errno);
      CloseFd(wake_);
      CloseFd(epoll_);
      return false;
    }
    thread_ = std::thread([this] { Loop(); });
    return true;
  }

  // add(fdA, fdB, pipeSize) → id. The fds stay Node's; JS must not let them close before the pair's report.
  // Throws (errno EMFILE/ENFILE/ENOMEM) while the relay is out of pipes: a new pair would only wait, so JS
  // carries it through Node streams instead.
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) {
      Napi::Error::New(env, "SpliceRelay: closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "SpliceRelay.add(fdA, fdB, pipeSize): bad arguments").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int fdA = info[0].As<Napi::Number>().Int32Value();
    int fdB = info[1].As<Napi::Number>().Int32Value();
    int64_t pipeSize = info[2].As<Napi::Number>().Int64Value();
    if (fdA < 0 || fdB < 0 || fdA == fdB) {
      Napi::RangeError::New(env, "SpliceRelay.add: two distinct socket fds expected").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int starved = starved_.load();
    if (starved != 0) {
      ThrowErrno(env, "pipe2", starved);
      return env.Undefined();
    }
    if (!EnsureThread(env)) return env.Undefined();

    Pair* p = new Pair();
    p->id = nextId_++;
    if (nextId_ == 0) nextId_ = 1;
    p->fds[0] = fdA;
    p->fds[1] = fdB;
    p->pipeSize = pipeSize > 0 && pipeSize < (1 << 30) ? static_cast<size_t>(pipeSize) : 0;
    for (int i = 0; i < 2; i++) {
      p->dir[i].from = p->fds[i];
      p->dir[i].to = p->fds[1 - i];
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      commands_.push_back({Command::kAdd, p, p->id});
    }
    Wake();
    return Napi::Number::New(env, p->id);
  }

  // cancel(id): stops the pair soon and reports it as cancelled (nothing happens if it already finished).
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_ || !thread_.joinable()) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "SpliceRelay.cancel(id): bad arguments").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      commands_.push_back({Command::kCancel, nullptr, id});
    }
    Wake();
    return env.Undefined();
  }

  // totals() → [bytes A → B, bytes B → A] moved by every pair so far, including running ones.
  Napi::Value Totals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Number::New(env, static_cast<double>(totalAtoB_.load(std::memory_order_relaxed))));
    out.Set(1u, Napi::Number::New(env, static_cast<double>(totalBtoA_.load(std::memory_order_relaxed))));
    return out;
  }

  // stats() → [idle pipes, busy pipes, pipes created so far, max idle, out of pipes (errno or 0), pairs running].
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, 6);
    out.Set(0u, Napi::Number::New(env, static_cast<double>(pool_.idleCount())));
    out.Set(1u, Napi::Number::New(env, static_cast<double>(pool_.busyCount())));
    out.Set(2u, Napi::Number::New(env, static_cast<double>(pool_.createdCount())));
    out.Set(3u, Napi::Number::New(env, static_cast<double>(pool_.maxIdle())));
    out.Set(4u, Napi::Number::New(env, starved_.load()));
    out.Set(5u, Napi::Number::New(env, static_cast<double>(running_.load(std::memory_order_relaxed))));
    return out;
  }

  void Wake() {
    if (wake_ < 0) return;
    uint64_t one = 1;
    ssize_t n = write(wake_, &one, sizeof one);
    (void)n;  // EAGAIN only when the counter is saturated: the thread is awake anyway
  }

  // ---- relay thread ----

  void Loop() {
    std::vector<epoll_event> events(256);
    std::vector<Pair*> done;
    while (!stop_.load()) {
      // Directions waiting for a pipe are retried after every batch, and at least every 20 ms.
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), waiters_.empty() ? -1 : 20);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;  // cannot happen with a valid epoll fd
      }
      for (int i = 0; i < n; i++) {
        if (events[i].data.ptr == nullptr) {
          uint64_t v;
          ssize_t r = read(wake_, &v, sizeof v);
          (void)r;
          RunCommands(done);
          continue;
        }
        Endpoint* endpoint = static_cast<Endpoint*>(events[i].data.ptr);
        Pair* p = endpoint->pair;
        if (p->finished) continue;
        uint32_t ev = events[i].events;
        if ((ev & EPOLLERR) != 0) {
          // A reset (or another socket error) is reported even when no splice would touch that socket now.
          for (int s = 0; s < 2 && !p->finished; s++) {
            int soErr = 0;
            socklen_t len = sizeof soErr;
            if (getsockopt(p->fds[s], SOL_SOCKET, SO_ERROR, &soErr, &len) == 0 && soErr != 0) {
              Finish(p, kError, s, soErr, done);
            }
          }
          if (p->finished) continue;
        }
        // Readable: the direction reading this socket; writable: the one writing it. Only those can move.
        const int side = endpoint->side;
        const uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
        const uint32_t kWritable = EPOLLOUT | EPOLLHUP | EPOLLERR;
        Pump(p, (ev & kReadable) != 0, side, (ev & kWritable) != 0, done);
      }
      if (!waiters_.empty()) ServeWaiters(done);
      // Pairs are freed only after the batch: later events in it may still point at them.
      for (Pair* p : done) delete p;
      done.clear();
    }
  }

  void RunCommands(std::vector<Pair*>& done) {
    std::vector<Command> batch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch.swap(commands_);
    }
    for (Command& c : batch) {
      if (c.kind == Command::kAdd) {
        Pair* p = c.pair;
        pairs_[p->id] = p;
        running_.store(pairs_.size(), std::memory_order_relaxed);
        for (int s = 0; s < 2 && !p->finished; s++) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          ev.data.ptr = &p->endpoints[s];
          if (epoll_ctl(epoll_, EPOLL_CTL_ADD, p->fds[s], &ev) != 0) Finish(p, kError, s, errno, done);
        }
        // Data that arrived before the hand-over raised no edge for us: pump once now.
        if (!p->finished) Pump(p, true, 0, true, done);
      } else {
        auto it = pairs_.find(c.id);
        if (it != pairs_.end() && !it->second->finished) Finish(it->second, kCancelled, -1, 0, done);
      }
    }
  }

  void Finish(Pair* p, int reason, int side, int err, std::vector<Pair*>& done) {
    p->finished = true;
    pairs_.erase(p->id);
    running_.store(pairs_.size(), std::memory_order_relaxed);
    // Off our epoll before JS hears of it: from the report on, Node may close (and reuse) these fds.
    // (EPOLL_CTL_DEL of an fd never added fails harmlessly.)
    for (int s = 0; s < 2; s++) epoll_ctl(epoll_, EPOLL_CTL_DEL, p->fds[s], nullptr);
    ztun::DropPipes(p, pool_);
    done.push_back(p);
    auto* c = new Completion{p->id, reason, side, err, static_cast<double>(p->dir[0].bytes),
                             static_cast<double>(p->dir[1].bytes)};
    if (tsfn_.NonBlockingCall(c) != napi_ok) delete c;
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
      ztun::StepResult r = ztun::Step(p, i, pool_, &progress, &err, &pipeErr, &moved);
      if (moved > 0) (i == 0 ? totalAtoB_ : totalBtoA_).fetch_add(moved, std::memory_order_relaxed);
      if (r == ztun::StepResult::kNoPipe) {
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

  Tsfn tsfn_;
  napi_env env_ = nullptr;
  bool hasTsfn_ = false;
  bool cleanupHook_ = false;
  bool closed_ = false;
  uint32_t nextId_ = 1;
  int epoll_ = -1;
  int wake_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Command> commands_;
  // Relay thread only (and Shutdown after the join):
  std::unordered_map<uint32_t, Pair*> pairs_;
  std::deque<std::pair<uint32_t, int>> waiters_;
  PipePool pool_;
  // Out of pipes (the errno of the failed pipe2) while directions wait for one; read by add() on the JS thread.
  std::atomic<int> starved_{0};
  std::atomic<size_t> running_{0};  // pairs_.size(), for stats()
  std::atomic<uint64_t> totalAtoB_{0};
  std::atomic<uint64_t> totalBtoA_{0};
};

}  // namespace

Napi::Function DefineSpliceRelay(Napi::Env env) {
  return SpliceRelay::Define(env);
}
