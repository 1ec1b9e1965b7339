// Zero-copy TCP relay for Linux: moves bytes between two connected sockets with splice(2) through a pipe per
// busy direction (socket → pipe → socket), so the payload never crosses into user space. One relay thread per
// SpliceRelay object (JS keeps one per process) waits on its own epoll; JS hands it pairs of socket fds and
// learns the outcome of each pair through a thread-safe function: bytes each way and why it ended (both
// sides finished, an error on one side, or a cancel from JS).
//
// File descriptors (issue 17 item 1): the relay works on Node's own socket fds (no dup) and takes pipes from
// a pool only while bytes are in them (pipe_pool.h, splice_pump.h; the thread's state in splice_core.h), so
// an idle relayed connection costs its two sockets and nothing else. JS keeps Node from closing a handed-over socket until the pair is reported
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
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "js_call.h"
#include "pipe_pool.h"
#include "splice_core.h"
#include "splice_pump.h"

namespace {


struct Completion {
  uint32_t id;
  int reason;
  int side;  // 0: socket A, 1: socket B, -1: none
  int err;
  double bytesAtoB;
  double bytesBtoA;
};

using ztun::Endpoint;
using ztun::Pair;

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

class SpliceRelay : public Napi::ObjectWrap<SpliceRelay>, private ztun::RelayReporter {
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
      : Napi::ObjectWrap<SpliceRelay>(info), core_(MaxIdleArg(info), this) {
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
      Wake(true);
      thread_.join();
    }
    core_.DropAll();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (Command& c : commands_) {
        if (c.kind == Command::kAdd) delete c.pair;
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
    core_.SetEpoll(epoll_);
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
    int starved = core_.starved();
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
    out.Set(0u, Napi::Number::New(env, static_cast<double>(core_.totalAtoB())));
    out.Set(1u, Napi::Number::New(env, static_cast<double>(core_.totalBtoA())));
    return out;
  }

  // stats() → [idle pipes, busy pipes, pipes created so far, max idle, out of pipes (errno or 0), pairs running].
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, 6);
    out.Set(0u, Napi::Number::New(env, static_cast<double>(core_.pool().idleCount())));
    out.Set(1u, Napi::Number::New(env, static_cast<double>(core_.pool().busyCount())));
    out.Set(2u, Napi::Number::New(env, static_cast<double>(core_.pool().createdCount())));
    out.Set(3u, Napi::Number::New(env, static_cast<double>(core_.pool().maxIdle())));
    out.Set(4u, Napi::Number::New(env, core_.starved()));
    out.Set(5u, Napi::Number::New(env, static_cast<double>(core_.running())));
    return out;
  }

  // One eventfd write per batch of commands, not per command: while a wake is on its way (the thread has not
  // taken the queue yet) a new command rides on it — under a connection burst many adds share one wake-up.
  // The thread clears wakePending_ before it takes the queue, so a command queued after that writes again.
  void Wake(bool force = false) {
    if (wake_ < 0) return;
    if (wakePending_.exchange(true) && !force) return;
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
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), core_.HasWaiters() ? 20 : -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;  // cannot happen with a valid epoll fd
      }
      for (int i = 0; i < n; i++) {
        if (events[i].data.ptr == nullptr) {
          uint64_t v;
          ssize_t r = read(wake_, &v, sizeof v);
          (void)r;
          wakePending_.store(false);  // before RunCommands takes the queue (see Wake)
          RunCommands(done);
          continue;
        }
        core_.OnEvent(static_cast<Endpoint*>(events[i].data.ptr), events[i].events, done);
      }
      if (core_.HasWaiters()) core_.ServeWaiters(done);
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
      if (c.kind == Command::kAdd) core_.Start(c.pair, done);
      else core_.Cancel(c.id, done);
    }
  }

  // RelayReporter: a finished pair's outcome, to JS through the thread-safe function.
  void Report(uint32_t id, int reason, int side, int err, uint64_t bytesAtoB, uint64_t bytesBtoA) override {
    auto* c = new Completion{id, reason, side, err, static_cast<double>(bytesAtoB), static_cast<double>(bytesBtoA)};
    if (tsfn_.NonBlockingCall(c) != napi_ok) delete c;
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
  std::atomic<bool> wakePending_{false};
  std::mutex mutex_;
  std::vector<Command> commands_;
  ztun::RelayCore core_;  // relay thread only (and Shutdown after the join), but its atomics
};

}  // namespace

Napi::Function DefineSpliceRelay(Napi::Env env) {
  return SpliceRelay::Define(env);
}
