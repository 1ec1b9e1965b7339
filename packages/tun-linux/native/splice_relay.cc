// Zero-copy TCP relay for Linux: moves bytes between two connected sockets with splice(2) through a pipe per
// direction (socket → pipe → socket), so the payload never crosses into user space. One relay thread per
// SpliceRelay object (JS keeps one per process) waits on its own epoll; JS hands it pairs of socket fds,
// which the relay dup()s so it owns what it closes, and learns the outcome of each pair through a
// thread-safe function: bytes each way and why it ended (both sides finished, an error on one side, or a
// cancel from JS).
//
// Ownership: a pair's fds, pipes and struct belong to the relay thread from the moment JS adds it. JS only
// posts commands (add / cancel / close) into a queue guarded by a mutex and wakes the thread through an
// eventfd; nothing on the JS thread touches a pair's fds after handing them over, so a cancel can never race
// with a close.

#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "js_call.h"

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

// One direction: from → pipe → to.
struct Direction {
  int from = -1;
  int to = -1;
  int pipeRead = -1;
  int pipeWrite = -1;
  size_t inPipe = 0;
  bool eof = false;       // `from` returned 0 (peer sent FIN)
  bool shutDown = false;  // FIN passed on: shutdown(to, SHUT_WR) after the pipe drained
  uint64_t bytes = 0;
};

struct Pair;

// What an epoll event points at: one socket of a pair.
struct Endpoint {
  Pair* pair;
  int side;
};

struct Pair {
  uint32_t id = 0;
  Endpoint endpoints[2] = {{this, 0}, {this, 1}};
  int fds[2] = {-1, -1};
  int pipes[2][2] = {{-1, -1}, {-1, -1}};
  size_t pipeSize = 0;
  Direction dir[2];  // 0: A → B, 1: B → A
  bool finished = false;
  bool registered = false;
};

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void ClosePair(Pair* p) {
  for (int i = 0; i < 2; i++) {
    CloseFd(p->fds[i]);
    CloseFd(p->pipes[i][0]);
    CloseFd(p->pipes[i][1]);
  }
}

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
                           InstanceMethod<&SpliceRelay::Close>("close"),
                       });
  }

  // new SpliceRelay(onDone(id, reason, side, errno, bytesAtoB, bytesBtoA))
  explicit SpliceRelay(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SpliceRelay>(info) {
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
  }

  ~SpliceRelay() override { Shutdown(); }

 private:
  static void CleanupHook(void* arg) {
    auto* self = static_cast<SpliceRelay*>(arg);
    self->cleanupHook_ = false;
    self->Shutdown();
  }

  // Stops the thread (pairs still running are closed without a report) and releases everything. Idempotent.
  void Shutdown() {
    if (thread_.joinable()) {
      stop_.store(true);
      Wake();
      thread_.join();
    }
    for (auto& entry : pairs_) {
      ClosePair(entry.second);
      delete entry.second;
    }
    pairs_.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (Command& c : commands_) {
        if (c.kind == Command::kAdd) {
          ClosePair(c.pair);
          delete c.pair;
        }
      }
      commands_.clear();
    }
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

  // Starts the thread on first use.
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

  // add(fdA, fdB, pipeSize) → id. The fds stay Node's; the relay works on its own dups.
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
    if (!EnsureThread(env)) return env.Undefined();

    Pair* p = new Pair();
    p->id = nextId_++;
    if (nextId_ == 0) nextId_ = 1;
    const int src[2] = {fdA, fdB};
    for (int i = 0; i < 2; i++) {
      p->fds[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 0);
      if (p->fds[i] < 0) {
        int err = errno;
        ClosePair(p);
        delete p;
        ThrowErrno(env, "dup", err);
        return env.Undefined();
      }
      if (pipe2(p->pipes[i], O_NONBLOCK | O_CLOEXEC) != 0) {
        int err = errno;
        ClosePair(p);
        delete p;
        ThrowErrno(env, "pipe2", err);
        return env.Undefined();
      }
      // A bigger pipe means fewer wake-ups per byte; when the kernel refuses (pipe-max-size, per-user pipe
      // quota) the default 64 KiB pipe still works.
      int size = pipeSize > 0 ? fcntl(p->pipes[i][1], F_SETPIPE_SZ, static_cast<int>(pipeSize)) : -1;
      if (size < 0) size = fcntl(p->pipes[i][1], F_GETPIPE_SZ);
      p->pipeSize = size > 0 ? static_cast<size_t>(size) : 65536;
    }
    for (int i = 0; i < 2; i++) {
      Direction& d = p->dir[i];
      d.from = p->fds[i];
      d.to = p->fds[1 - i];
      d.pipeRead = p->pipes[i][0];
      d.pipeWrite = p->pipes[i][1];
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
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
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
      // Pairs are freed only after the batch: later events in it may still point at them.
      for (Pair* p : done) {
        ClosePair(p);
        delete p;
      }
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
        bool ok = true;
        for (int s = 0; s < 2 && ok; s++) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          ev.data.ptr = &p->endpoints[s];
          if (epoll_ctl(epoll_, EPOLL_CTL_ADD, p->fds[s], &ev) != 0) {
            Finish(p, kError, s, errno, done);
            ok = false;
          }
        }
        p->registered = true;
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
    // Close the dups now (not after the batch): a reset the JS side makes next must find them gone.
    for (int s = 0; s < 2; s++) {
      if (p->fds[s] >= 0) epoll_ctl(epoll_, EPOLL_CTL_DEL, p->fds[s], nullptr);
    }
    ClosePair(p);
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
      if (!run[i]) continue;
      bool progress = true;
      while (progress && !p->finished) {
        progress = false;
        int r = Step(p, i, &progress);
        if (r != 0) Finish(p, kError, r > 0 ? 1 : 0, r > 0 ? r : -r, done);
      }
    }
    if (!p->finished && p->dir[0].shutDown && p->dir[1].shutDown) Finish(p, kEof, -1, 0, done);
  }

  // One round of one direction. Returns 0, or an errno: positive when it concerns socket B, negative for A.
  int Step(Pair* p, int i, bool* progress) {
    Direction& d = p->dir[i];
    auto blame = [i](bool fromSide, int err) {
      // fromSide: the error came from d.from (socket i), else from d.to (socket 1 - i).
      int socket = fromSide ? i : 1 - i;
      return socket == 1 ? err : -err;
    };
    if (!d.eof && d.inPipe < p->pipeSize) {
      ssize_t n = splice(d.from, nullptr, d.pipeWrite, nullptr, p->pipeSize - d.inPipe,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.inPipe += static_cast<size_t>(n);
        *progress = true;
      } else if (n == 0) {
        d.eof = true;
        *progress = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return blame(true, errno);
      }
      // EAGAIN: the socket is empty, or the pipe is out of slots (small segments); writing below frees them.
    }
    if (d.inPipe > 0) {
      ssize_t n = splice(d.pipeRead, nullptr, d.to, nullptr, d.inPipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.inPipe -= static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        (i == 0 ? totalAtoB_ : totalBtoA_).fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        *progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return blame(false, errno);
      }
    }
    if (d.eof && d.inPipe == 0 && !d.shutDown) {
      d.shutDown = true;
      *progress = true;
      if (shutdown(d.to, SHUT_WR) != 0 && errno != ENOTCONN) return blame(false, errno);
    }
    return 0;
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
  std::unordered_map<uint32_t, Pair*> pairs_;  // relay thread only (and Shutdown after the join)
  std::atomic<uint64_t> totalAtoB_{0};
  std::atomic<uint64_t> totalBtoA_{0};
};

}  // namespace

Napi::Function DefineSpliceRelay(Napi::Env env) {
  return SpliceRelay::Define(env);
}
