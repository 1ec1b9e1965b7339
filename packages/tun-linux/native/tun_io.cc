// Packet hot path for @ztun/tun-linux, the Node side: owns a non-blocking packet fd (a TUN device it opens
// itself, or an adopted datagram fd in tests), polls it on the libuv loop, reads batches into a slab owned by
// JS and calls JS once per batch, writes batches in one native call, and closes the fd. Nothing else opens,
// polls or closes that fd, so no JS call order can make it poll a closed or reused fd. The syscalls, the
// write queue and the counters are in packet_fd.h.
//
// Lifetime: the uv_poll_t lives in a PollHandle that outlives the TunIo until libuv's close callback; once
// the TunIo lets go (close(), environment teardown, finalizer) the handle no longer points at it. An async
// environment cleanup hook closes a still-open device at teardown and keeps the environment (and this addon)
// alive until libuv has finished closing the handle: a close callback can never run into unloaded code or
// freed memory, e.g. when a worker thread exits without closing its device.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "js_call.h"
#include "packet_fd.h"
#include "tun_io_options.h"
#include "tun_open.h"
#include "tun_writer.h"

// native/splice_relay.cc: the zero-copy socket relay, exported from the same addon.
Napi::Function DefineSpliceRelay(Napi::Env env);
// native/udp_relay.cc: the batch UDP path (issue 17 item 4).
Napi::Function DefineUdpRelay(Napi::Env env);
// native/socket_ops.cc: socket options on raw fds for linuxSockets.
Napi::Object DefineSocketOps(Napi::Env env);

namespace {

using ztun::JsCall;
using ztun::kCounterCount;
using ztun::kCounterNames;

class TunIo;

struct PollHandle {
  uv_poll_t poll;  // first member: libuv hands back &poll
  TunIo* owner;    // nullptr once the TunIo let go
  napi_async_cleanup_hook_handle teardownHook;
};

class TunIo : public Napi::ObjectWrap<TunIo>, private ztun::PacketFdEvents {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunIo",
                       {
                           InstanceMethod<&TunIo::Resume>("resume"),
                           InstanceMethod<&TunIo::Pause>("pause"),
                           InstanceMethod<&TunIo::WriteBatch>("writeBatch"),
                           InstanceMethod<&TunIo::Write>("write"),
                           InstanceMethod<&TunIo::QueueLength>("queueLength"),
                           InstanceMethod<&TunIo::AnswerEchoRequests>("answerEchoRequests"),
                           InstanceMethod<&TunIo::Close>("close"),
                           InstanceAccessor<&TunIo::GetName>("name"),
                           InstanceAccessor<&TunIo::GetFd>("fd"),
                           InstanceAccessor<&TunIo::GetOffloadFlags>("offloadFlags"),
                           InstanceAccessor<&TunIo::GetUsoWritable>("usoWritable"),
                           InstanceAccessor<&TunIo::GetTsoRefused>("tsoRefused"),
                       });
  }

  // new TunIo(options): see tun_io_options.h and TunIoOptions in src/tun-io.linux.ts.
  explicit TunIo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunIo>(info) {
    Napi::Env env = info.Env();
    ztun::TunIoOptions o;
    if (!ztun::ReadTunIoOptions(env, info, kCounterCount, &o)) return;
    int fd = o.fd;
    if (o.openDevice) {
      char actual[IFNAMSIZ];
      ztun::TunOpenError error;
      fd = ztun::OpenTun(o.devicePath.c_str(), o.deviceName.c_str(), o.offload, o.tsoFlags, actual, &offload_,
                         &error);
      if (fd < 0) {
        ThrowErrno(env, error.operation, error.err);
        return;
      }
      name_ = actual;
    } else {
      // Adopted: ours to close from now on, whatever happens next. A blocking fd would stall the whole loop.
      int fl = fcntl(fd, F_GETFL);
      if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int err = errno;
        close(fd);
        ThrowErrno(env, "fcntl", err);
        return;
      }
    }
    ztun::PacketSlots slots{static_cast<uint8_t*>(o.slab.Data()),
                            o.lengths.Data(),
                            o.offload ? o.flags.Data() : nullptr,
                            o.offload ? o.gsoSizes.Data() : nullptr,
                            o.counters.Data(),
                            o.slotSize,
                            o.batchSize};
    io_ = std::make_unique<ztun::PacketFd>(fd, o.offload, slots, o.queueLimit, static_cast<PacketFdEvents*>(this));
    if (o.writeThread) {
      writer_ = std::make_unique<ztun::TunWriter>(fd, o.offload, o.counters.Data(),
                                                 std::max<uint32_t>(o.queueLimit, kMinWriterLimit));
      if (!writer_->Start()) {
        int err = errno;
        writer_.reset();
        io_->Close();
        ThrowErrno(env, "eventfd", err);
        return;
      }
    }
    batchSize_ = o.batchSize;
    maxBatchesPerWake_ = o.batchesPerWake;
    wakeBudget_ = maxBatchesPerWake_;
    // The typed arrays stay alive (and in place) as long as the native side writes into them.
    slabRef_ = Napi::Persistent(static_cast<Napi::Object>(o.slab));
    lengthsRef_ = Napi::Persistent(static_cast<Napi::Object>(o.lengths));
    countersRef_ = Napi::Persistent(static_cast<Napi::Object>(o.counters));
    if (o.offload) flagsRef_ = Napi::Persistent(static_cast<Napi::Object>(o.flags));
    if (o.offload) gsoSizesRef_ = Napi::Persistent(static_cast<Napi::Object>(o.gsoSizes));
    onBatch_ = Napi::Persistent(o.onBatch);
    onError_ = Napi::Persistent(o.onError);

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* handle = new PollHandle{};
    int rc = uv_poll_init(loop, &handle->poll, fd);
    if (rc != 0) {
      delete handle;
      if (writer_) writer_->Stop();
      io_->Close();
      Napi::Error::New(env, std::string("TunIo: uv_poll_init: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    handle->owner = this;
    if (napi_add_async_cleanup_hook(env, OnEnvTeardown, handle, &handle->teardownHook) != napi_ok) {
      handle->teardownHook = nullptr;
    }
    handle_ = handle;
    // An open device keeps its object alive (so no GC closes it under a caller that dropped it); close()
    // releases it.
    Ref();
    referenced_ = true;
  }

  ~TunIo() override {
    // Normally reached after close() or teardown (handle_ is null); closes anything still open. The self
    // reference is being finalized with the object: not ours to touch any more.
    referenced_ = false;
    Release();
  }

 private:
  static void ThrowErrno(Napi::Env env, const char* operation, int err) {
    Napi::Error e = Napi::Error::New(env, std::string(operation) + " failed: " + strerror(err));
    e.Set("operation", Napi::String::New(env, operation));
    e.Set("errno", Napi::Number::New(env, err));
    e.ThrowAsJavaScriptException();
  }

  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), io_ ? io_->fd() : -1); }
  // The TUN_F_* flags TUNSETOFFLOAD took (0: no vnet header, or an adopted fd), and the errno of a refused
  // TSO request (0: none).
  Napi::Value GetOffloadFlags(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), offload_.flags); }
  Napi::Value GetTsoRefused(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), offload_.tsoRefused);
  }
  // Whether UDP super-packets (VIRTIO_NET_HDR_GSO_UDP_L4) may be written (tun_open.h ProbeUso).
  Napi::Value GetUsoWritable(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), offload_.usoWritable);
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    reading_ = true;
    UpdatePoll();
    return info.Env().Undefined();
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    reading_ = false;
    UpdatePoll();
    return info.Env().Undefined();
  }

  // answerEchoRequests(families: number): kEchoIpv4 (1) | kEchoIpv6 (2) — the ICMP echo requests of those
  // families are answered in the read path (icmp_echo.h) and never reach onBatch; 0 turns it off.
  Napi::Value AnswerEchoRequests(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "answerEchoRequests(families: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (io_) io_->SetEchoFamilies(info[0].As<Napi::Number>().Uint32Value() & (ztun::kEchoIpv4 | ztun::kEchoIpv6));
    return env.Undefined();
  }

  Napi::Value QueueLength(const Napi::CallbackInfo& info) {
    if (writer_) return Napi::Number::New(info.Env(), static_cast<double>(writer_->pending()));
    return Napi::Number::New(info.Env(), static_cast<double>(io_ ? io_->queued() : 0));
  }

  // Whether a batch goes out here even with a write thread: a bulk batch (a super-packet, or kInlineBytes or
  // more) while the thread has nothing waiting. Bulk data gains nothing from another thread — the JS thread
  // has time to spare when the kernel's receive work per byte dominates, and a thread that must be woken and
  // scheduled for each batch holds up the ACK clock (one stream went from 0.98 to 0.27–0.43 of the no-tunnel
  // rate on a loaded 2-core machine) — while connection setup (small packets, each a handshake step for the
  // kernel's TCP) gains. With nothing waiting in the thread, writing here keeps the order.
  bool InlineBatch(const uint32_t* offsets, const uint32_t* lengths, uint32_t count, const uint16_t* gsoSizes) {
    if (!writer_) return true;
    if (writer_->pending() != 0) return false;
    if (count == 1) return true;  // a lone packet (request/response): the hop to the thread is pure latency
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < count; ++i) {
      if (gsoSizes != nullptr && gsoSizes[i] != 0) return true;
      bytes += lengths[i];
    }
    return bytes >= kInlineBytes;
  }

  // Hands a packet to the write thread, or writes (or queues) it here. True when written now, or handed over.
  bool SubmitOne(const uint8_t* packet, size_t length, ztun::PacketMeta meta) {
    if (!writer_) return io_->Submit(packet, length, meta);
    if (closed_ || !io_->usable()) {
      io_->CountDropped(1);
      return false;
    }
    return writer_->Append(packet, length, meta);
  }

  // After handing packets over: wakes the write thread, and reports what it recorded since the last look (a
  // fatal write error makes the fd useless; EIO, once per spell, usually means the link went down).
  void AfterSubmit(bool handedOver) {
    if (!writer_) return;
    if (handedOver) writer_->Wake();
    CheckWriter();
  }

  void CheckWriter() {
    if (!writer_ || closed_) return;
    int fatal = writer_->fatal();
    if (fatal != 0 && io_->usable()) {
      io_->Fail("write", fatal);
      return;
    }
    if (writer_->TakeEio()) ReportError("write", EIO);
  }

  // writeBatch(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count, flags?: Uint8Array,
  //   gsoSizes?: Uint16Array) -> packets written now. An error listener that throws while an error is reported here throws out of
  //   writeBatch, to its caller, after every packet of the batch was written or counted.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* data;
    size_t dataLength;
    uint32_t* offsets;
    size_t offsetsLength;
    uint32_t* lengths;
    size_t lengthsLength;
    if (info.Length() < 4 || !ztun::TypedArrayOf(env, info[0], napi_uint8_array, &data, &dataLength) ||
        !ztun::TypedArrayOf(env, info[1], napi_uint32_array, &offsets, &offsetsLength) ||
        !ztun::TypedArrayOf(env, info[2], napi_uint32_array, &lengths, &lengthsLength) || !info[3].IsNumber()) {
      Napi::TypeError::New(env, "writeBatch(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int64_t requested = info[3].As<Napi::Number>().Int64Value();
    if (requested < 0 || static_cast<uint64_t>(requested) > offsetsLength ||
        static_cast<uint64_t>(requested) > lengthsLength) {
      Napi::RangeError::New(env, "writeBatch: count exceeds offsets/lengths").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t count = static_cast<uint32_t>(requested);
    uint8_t* flags = nullptr;
    size_t flagsLength = 0;
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      if (!ztun::TypedArrayOf(env, info[4], napi_uint8_array, &flags, &flagsLength) || flagsLength < count) {
        Napi::TypeError::New(env, "writeBatch: flags must be a Uint8Array of at least count")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    uint16_t* gsoSizes = nullptr;
    if (info.Length() > 5 && !info[5].IsUndefined()) {
      uint8_t* raw;
      size_t gsoLength = 0;
      if (!ztun::TypedArrayOf(env, info[5], napi_uint16_array, &raw, &gsoLength) || gsoLength < count) {
        Napi::TypeError::New(env, "writeBatch: gsoSizes must be a Uint16Array of at least count")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
      gsoSizes = reinterpret_cast<uint16_t*>(raw);
    }
    uint32_t written = 0;
    uint32_t submitted = 0;
    inJsCall_ = true;
    bool inline_ = InlineBatch(offsets, lengths, count, gsoSizes);
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t offset = offsets[i];
      uint64_t length = lengths[i];
      if (length == 0 || offset + length > dataLength) {
        io_->CountDropped(1);  // a packet outside its buffer: refuse it, count it
        continue;
      }
      ztun::PacketMeta meta;
      if (flags != nullptr) meta.flags = flags[i] & (ztun::kChecksumPartial | ztun::kGsoEcn);
      if (gsoSizes != nullptr) meta.gsoSize = gsoSizes[i];
      ++submitted;
      if (inline_ ? io_->Submit(data + offset, static_cast<size_t>(length), meta)
                  : SubmitOne(data + offset, static_cast<size_t>(length), meta))
        ++written;
    }
    AfterSubmit(submitted > 0 && !inline_);
    inJsCall_ = false;
    UpdatePoll();
    return Napi::Number::New(env, written);  // with an exception pending, JS sees the exception
  }

  // write(packet: Uint8Array) -> 1 when written now, 0 when queued or dropped
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* data;
    size_t length;
    if (info.Length() < 1 || !ztun::TypedArrayOf(env, info[0], napi_uint8_array, &data, &length)) {
      Napi::TypeError::New(env, "write(packet: Uint8Array)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (length == 0) {
      io_->CountDropped(1);
      return Napi::Number::New(env, 0);
    }
    inJsCall_ = true;
    bool now = SubmitOne(data, length, ztun::PacketMeta{});
    AfterSubmit(true);
    inJsCall_ = false;
    UpdatePoll();
    return Napi::Number::New(env, now ? 1 : 0);
  }

  // close() -> number of queued packets dropped (counted). Stops polling and closes the fd, at once.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Release()));
  }

  // Stops polling, closes the fd, drops the queue, lets go of the poll handle and of the self reference.
  // Idempotent; after it every write is counted as dropped and nothing calls into JS again. Returns the
  // number of queued packets dropped.
  size_t Release() {
    closed_ = true;
    reading_ = false;
    if (handle_ != nullptr) {
      PollHandle* handle = handle_;
      handle_ = nullptr;
      handle->owner = nullptr;
      // uv_poll_stop takes the fd out of epoll at once (uv__platform_invalidate_fd), so closing it next is safe.
      uv_poll_stop(&handle->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), OnPollClosed);
    }
    // The write thread first (joined: it writes nothing more), then the fd it wrote to.
    size_t dropped = writer_ ? writer_->Stop() : 0;
    dropped += io_ ? io_->Close() : 0;
    if (referenced_) {
      referenced_ = false;
      uint32_t count;
      napi_reference_unref(Env(), static_cast<napi_ref>(*this), &count);  // never throws, unlike Unref()
    }
    return dropped;
  }

  // The environment is going away (process exit, worker exit or terminate): close what is still open. Node
  // waits for napi_remove_async_cleanup_hook, which the handle's close callback calls.
  static void OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
    auto* handle = static_cast<PollHandle*>(arg);
    if (handle->owner != nullptr) handle->owner->Release();  // its close callback finishes the hook
  }

  static void OnPollClosed(uv_handle_t* h) {
    auto* handle = reinterpret_cast<PollHandle*>(h);
    if (handle->teardownHook != nullptr) napi_remove_async_cleanup_hook(handle->teardownHook);
    delete handle;
  }

  // Reads and delivers up to wakeBudget_ batches. Returns false when the TunIo let go during a call into JS
  // (closed, or the environment is going away): the caller must not touch it any more.
  //
  // Under a burst (a wake that used its whole budget and left packets in the kernel's queue) the next wake
  // may read twice as many batches, up to kBurstFactor × batchesPerWake; a wake that drains the queue goes
  // back to batchesPerWake. The TUN's queue (txqueuelen packets) overflows when a whole event-loop turn —
  // thousands of socket callbacks after a mass close — passes between two reads of a few batches each
  // (issue 17 item 5); in steady state the loop stays as fair to the sockets as before.
  bool ReadBatches(PollHandle* handle) {
    bool drainedAll = false;
    uint32_t rounds = 0;
    for (; rounds < wakeBudget_; ++rounds) {
      uint32_t count = 0;
      uint32_t refused = 0;
      bool drained = false;
      // Reads that hand JS nothing (drops, echo requests answered in ReadOne) count too: a ping flood may
      // not hold the loop here for longer than two batches' worth of reads.
      for (uint32_t reads = 0; count < batchSize_ && reads < 2 * batchSize_; ++reads) {
        ssize_t n = io_->ReadOne(count, &refused);
        if (n == 0) continue;
        if (n < 0) {
          drained = true;
          break;
        }
        ++count;
      }
      if (handle->owner != this) return false;  // a read error's listener closed the device
      if (count > 0) {
        napi_env env = Env();
        ztun::RawHandleScope scope(env);
        napi_value arg = nullptr;
        napi_create_uint32(env, count, &arg);
        CallJs(onBatch_, 1, &arg);
        if (handle->owner != this) return false;
      }
      if (drained) drainedAll = true;
      if (drained || !reading_ || closed_ || !io_->usable()) break;
    }
    if (drainedAll) wakeBudget_ = maxBatchesPerWake_;
    else if (rounds >= wakeBudget_) wakeBudget_ = std::min(wakeBudget_ * 2, maxBatchesPerWake_ * kBurstFactor);
    UpdatePoll();  // an echo reply answered in ReadOne may have been queued: wait for writability then
    return true;
  }

  // Calls a JS callback. Outside a JS call (a loop callback) an exception goes to 'uncaughtException'; inside
  // one (writeBatch) it stays pending and reaches the caller. When JS cannot run any more, nothing is called
  // and the device is released: nothing may call into a dying environment again.
  void CallJs(const Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
    napi_env env = Env();
    JsCall r = ztun::MakeCallback(env, static_cast<napi_ref>(*this), static_cast<napi_ref>(fn), argc, argv);
    if (r == JsCall::kThrew && !inJsCall_) ztun::ReportUncaught(env);
    if (r == JsCall::kNoJs) Release();
  }

  // PacketFdEvents: the fd is useless (the device vanished): stop polling, tell JS.
  void OnFatal(const char* operation, int err) override {
    reading_ = false;
    UpdatePoll();
    ReportError(operation, err);
  }

  void OnWriteError(const char* operation, int err) override { ReportError(operation, err); }

  void ReportError(const char* operation, int err) {
    napi_env env = Env();
    ztun::RawHandleScope scope(env);
    bool pending = false;
    // A listener already threw during this writeBatch: that exception goes to the caller; this report is
    // the same spell of trouble and is dropped (the packet is counted either way).
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
    napi_value args[2] = {nullptr, nullptr};
    napi_create_string_utf8(env, operation, NAPI_AUTO_LENGTH, &args[0]);
    napi_create_int32(env, err, &args[1]);
    CallJs(onError_, 2, args);
  }

  void UpdatePoll() {
    if (handle_ == nullptr) return;
    int want = 0;
    if (!closed_ && io_->usable()) {
      if (reading_) want |= UV_READABLE;
      if (io_->queued() > 0) want |= UV_WRITABLE;
    }
    if (want == events_) return;
    events_ = want;
    if (want == 0) {
      uv_poll_stop(&handle_->poll);
      return;
    }
    int rc = uv_poll_start(&handle_->poll, want, OnPoll);
    if (rc != 0) {
      events_ = 0;
      io_->Fail("poll", -rc);
    }
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* handle = reinterpret_cast<PollHandle*>(h);
    TunIo* self = handle->owner;
    if (self == nullptr) return;
    if (status < 0) {
      // libuv stopped the handle (POLLERR). Ask the fd itself for the real reason (EBADFD when the device is gone).
      self->events_ = 0;
      int err = -status;
      uint8_t probe[1];
      if (read(self->io_->fd(), probe, 0) < 0 && errno != EAGAIN) err = errno;
      self->io_->Fail("poll", err);
      return;
    }
    self->CheckWriter();
    if (handle->owner != self) return;
    if ((events & UV_WRITABLE) != 0) self->io_->Flush();
    if (handle->owner != self) return;
    if ((events & UV_READABLE) != 0 && self->reading_ && !self->closed_ && self->io_->usable()) {
      if (!self->ReadBatches(handle)) return;
    }
  }

  std::unique_ptr<ztun::PacketFd> io_;
  std::unique_ptr<ztun::TunWriter> writer_;  // with the writeThread option: writes go through it
  std::string name_;
  ztun::TunOffload offload_;
  PollHandle* handle_ = nullptr;
  bool referenced_ = false;
  bool inJsCall_ = false;
  int events_ = 0;
  bool reading_ = false;
  bool closed_ = false;
  uint32_t batchSize_ = 0;
  uint32_t maxBatchesPerWake_ = 1;
  uint32_t wakeBudget_ = 1;  // batches this wake may read (ReadBatches doubles it under a burst)
  static constexpr uint32_t kBurstFactor = 16;
  // Packets waiting for the write thread before it drops: a whole loop turn under a burst (batchesPerWake ×
  // kBurstFactor batches) fits, whatever the inline queue's limit.
  static constexpr uint32_t kMinWriterLimit = 4096;
  // A batch of this many bytes or more is bulk data (InlineBatch).
  static constexpr uint64_t kInlineBytes = 16384;
  Napi::ObjectReference slabRef_;
  Napi::ObjectReference lengthsRef_;
  Napi::ObjectReference countersRef_;
  Napi::ObjectReference flagsRef_;
  Napi::ObjectReference gsoSizesRef_;
  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
};

// echoReplyInPlace(packet: Uint8Array, families: number) -> the reply's length (the packet rewritten in place)
// or 0 (untouched): icmp_echo.h on any bytes, for tests that hold it to @ztun/packet's echoReplyInPlace.
Napi::Value EchoReplyInPlaceJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t length;
  if (info.Length() < 2 || !ztun::TypedArrayOf(env, info[0], napi_uint8_array, &data, &length) ||
      !info[1].IsNumber()) {
    Napi::TypeError::New(env, "echoReplyInPlace(packet: Uint8Array, families: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t n = ztun::EchoReplyInPlace(data, length, info[1].As<Napi::Number>().Uint32Value());
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunIo", TunIo::Define(env));
  Napi::Array names = Napi::Array::New(env, kCounterCount);
  for (uint32_t i = 0; i < kCounterCount; ++i) names.Set(i, Napi::String::New(env, kCounterNames[i]));
  exports.Set("counterNames", names);
  exports.Set("counterCount", Napi::Number::New(env, kCounterCount));
  exports.Set("SpliceRelay", DefineSpliceRelay(env));
  exports.Set("UdpRelay", DefineUdpRelay(env));
  exports.Set("socketOps", DefineSocketOps(env));
  exports.Set("echoReplyInPlace", Napi::Function::New(env, EchoReplyInPlaceJs, "echoReplyInPlace"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ztun_tun, Init)
