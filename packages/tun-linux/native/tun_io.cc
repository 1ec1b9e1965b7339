// Packet hot path for @ztun/tun-linux: owns a non-blocking packet fd (a TUN device it opens itself, or an
// adopted datagram fd in tests), polls it on the libuv loop, reads batches into a slab owned by JS and calls
// JS once per batch, writes batches in one native call with a bounded queue for what the kernel does not take
// now, and closes the fd. Nothing else opens, polls or closes that fd, so no JS call order can make it poll a
// closed or reused fd.
//
// Nothing here allocates per packet: reads land in the preallocated slab; the write queue is a ring of
// reusable buffers that only grow while warming up, and is used only after EAGAIN.
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
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "js_call.h"
#include "tun_io_options.h"
#include "tun_open.h"
#include "vnet_header.h"

// native/splice_relay.cc: the zero-copy socket relay, exported from the same addon.
Napi::Function DefineSpliceRelay(Napi::Env env);

namespace {

using ztun::JsCall;

// The counters shared with JS in a Float64Array. JS takes their names and order from the addon's
// `counterNames` export, so this enum and the table under it are the only definition.
enum Counter : int { kRxPackets, kRxBytes, kTxPackets, kTxBytes, kRxDropped, kTxDropped, kCounterCount };
constexpr const char* kCounterNames[] = {"rxPackets", "rxBytes",   "txPackets",
                                         "txBytes",   "rxDropped", "txDropped"};
static_assert(sizeof kCounterNames / sizeof kCounterNames[0] == kCounterCount, "one name per counter");

enum class WriteResult { kOk, kAgain, kDropped, kFatal };

// Per-packet flag bits shared with JS (PacketBatch.flags, docs/architecture.md).
constexpr uint8_t kChecksumPartial = 1;

// Errors after which the fd is useless: the device vanished or the fd was closed under us.
bool IsFatal(int err) {
  return err == EBADF || err == EBADFD || err == ENODEV || err == ENXIO || err == EPIPE;
}

class TunIo;

struct PollHandle {
  uv_poll_t poll;  // first member: libuv hands back &poll
  TunIo* owner;    // nullptr once the TunIo let go
  napi_async_cleanup_hook_handle teardownHook;
};

class TunIo : public Napi::ObjectWrap<TunIo> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunIo",
                       {
                           InstanceMethod<&TunIo::Resume>("resume"),
                           InstanceMethod<&TunIo::Pause>("pause"),
                           InstanceMethod<&TunIo::WriteBatch>("writeBatch"),
                           InstanceMethod<&TunIo::Write>("write"),
                           InstanceMethod<&TunIo::QueueLength>("queueLength"),
                           InstanceMethod<&TunIo::Close>("close"),
                           InstanceAccessor<&TunIo::GetName>("name"),
                           InstanceAccessor<&TunIo::GetFd>("fd"),
                       });
  }

  // new TunIo(options): see tun_io_options.h and TunIoOptions in src/tun-io.linux.ts.
  explicit TunIo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunIo>(info) {
    Napi::Env env = info.Env();
    ztun::TunIoOptions o;
    if (!ztun::ReadTunIoOptions(env, info, kCounterCount, &o)) return;
    if (o.openDevice) {
      char actual[IFNAMSIZ];
      ztun::TunOpenError error;
      fd_ = ztun::OpenTun(o.devicePath.c_str(), o.deviceName.c_str(), o.offload, actual, &error);
      if (fd_ < 0) {
        ThrowErrno(env, error.operation, error.err);
        return;
      }
      name_ = actual;
    } else {
      fd_ = o.fd;  // adopted: ours to close from now on, whatever happens next
      int fl = fcntl(fd_, F_GETFL);
      if (fl < 0 || fcntl(fd_, F_SETFL, fl | O_NONBLOCK) < 0) {  // a blocking read would stall the whole loop
        int err = errno;
        CloseFd();
        ThrowErrno(env, "fcntl", err);
        return;
      }
    }
    slotSize_ = o.slotSize;
    batchSize_ = o.batchSize;
    queueLimit_ = o.queueLimit;
    maxBatchesPerWake_ = o.batchesPerWake;
    slab_ = static_cast<uint8_t*>(o.slab.Data());
    lengths_ = o.lengths.Data();
    counters_ = o.counters.Data();
    slabRef_ = Napi::Persistent(static_cast<Napi::Object>(o.slab));
    lengthsRef_ = Napi::Persistent(static_cast<Napi::Object>(o.lengths));
    countersRef_ = Napi::Persistent(static_cast<Napi::Object>(o.counters));
    onBatch_ = Napi::Persistent(o.onBatch);
    onError_ = Napi::Persistent(o.onError);
    if (o.offload) {
      vnet_ = true;
      flags_ = o.flags.Data();
      flagsRef_ = Napi::Persistent(static_cast<Napi::Object>(o.flags));
    }
    queue_.resize(queueLimit_);
    queuePartial_.resize(queueLimit_);

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* handle = new PollHandle{};
    int rc = uv_poll_init(loop, &handle->poll, fd_);
    if (rc != 0) {
      delete handle;
      CloseFd();
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
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

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

  Napi::Value QueueLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(queueSize_));
  }

  // writeBatch(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count, flags?: Uint8Array)
  //   -> packets written now. An error listener that throws while an error is reported here throws out of
  //   writeBatch, to its caller, after every packet of the batch was written or counted.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* data;
    size_t dataLength;
    uint32_t* offsets;
    size_t offsetsLength;
    uint32_t* lengths;
    size_t lengthsLength;
    if (info.Length() < 4 || !TypedArrayOf(env, info[0], napi_uint8_array, &data, &dataLength) ||
        !TypedArrayOf(env, info[1], napi_uint32_array, &offsets, &offsetsLength) ||
        !TypedArrayOf(env, info[2], napi_uint32_array, &lengths, &lengthsLength) || !info[3].IsNumber()) {
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
      if (!TypedArrayOf(env, info[4], napi_uint8_array, &flags, &flagsLength) || flagsLength < count) {
        Napi::TypeError::New(env, "writeBatch: flags must be a Uint8Array of at least count")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    uint32_t written = 0;
    inJsCall_ = true;
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t offset = offsets[i];
      uint64_t length = lengths[i];
      if (length == 0 || offset + length > dataLength) {
        counters_[kTxDropped] += 1;  // a packet outside its buffer: refuse it, count it
        continue;
      }
      bool partial = flags != nullptr && (flags[i] & kChecksumPartial) != 0;
      if (SubmitPacket(data + offset, static_cast<size_t>(length), partial)) ++written;
    }
    inJsCall_ = false;
    if (queueSize_ > 0) UpdatePoll();
    return Napi::Number::New(env, written);  // with an exception pending, JS sees the exception
  }

  // write(packet: Uint8Array) -> 1 when written now, 0 when queued or dropped
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* data;
    size_t length;
    if (info.Length() < 1 || !TypedArrayOf(env, info[0], napi_uint8_array, &data, &length)) {
      Napi::TypeError::New(env, "write(packet: Uint8Array)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (length == 0) {
      counters_[kTxDropped] += 1;
      return Napi::Number::New(env, 0);
    }
    inJsCall_ = true;
    bool now = SubmitPacket(data, length, false);
    inJsCall_ = false;
    if (queueSize_ > 0) UpdatePoll();
    return Napi::Number::New(env, now ? 1 : 0);
  }

  // close() -> number of queued packets dropped. Stops polling and closes the fd, at once.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Number::New(env, 0);
    size_t dropped = queueSize_;
    counters_[kTxDropped] += static_cast<double>(dropped);
    Release();
    return Napi::Number::New(env, static_cast<double>(dropped));
  }

  // Stops polling, closes the fd, drops the queue, lets go of the poll handle and of the self reference.
  // Idempotent; after it every write is counted as dropped and nothing calls into JS again.
  void Release() {
    closed_ = true;
    reading_ = false;
    queueSize_ = 0;
    queueHead_ = 0;
    if (handle_ != nullptr) {
      PollHandle* handle = handle_;
      handle_ = nullptr;
      handle->owner = nullptr;
      // uv_poll_stop takes the fd out of epoll at once (uv__platform_invalidate_fd), so closing it next is safe.
      uv_poll_stop(&handle->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), OnPollClosed);
    }
    CloseFd();
    if (referenced_) {
      referenced_ = false;
      uint32_t count;
      napi_reference_unref(Env(), static_cast<napi_ref>(*this), &count);  // never throws, unlike Unref()
    }
  }

  void CloseFd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
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

  static bool TypedArrayOf(napi_env env, napi_value value, napi_typedarray_type want, uint8_t** data,
                           size_t* byteLength) {
    bool is = false;
    if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
    napi_typedarray_type type;
    size_t length;
    void* ptr;
    if (napi_get_typedarray_info(env, value, &type, &length, &ptr, nullptr, nullptr) != napi_ok || type != want)
      return false;
    *data = static_cast<uint8_t*>(ptr);
    *byteLength = length;  // elements; for Uint8Array the same as bytes
    return true;
  }

  static bool TypedArrayOf(napi_env env, napi_value value, napi_typedarray_type want, uint32_t** data,
                           size_t* elements) {
    uint8_t* raw;
    if (!TypedArrayOf(env, value, want, &raw, elements)) return false;
    *data = reinterpret_cast<uint32_t*>(raw);
    return true;
  }

  // Writes one packet now, or queues it behind earlier queued packets (order is kept). True when written now.
  bool SubmitPacket(const uint8_t* packet, size_t length, bool partial) {
    if (closed_ || failed_) {
      counters_[kTxDropped] += 1;
      return false;
    }
    if (queueSize_ > 0) {
      Enqueue(packet, length, partial);
      return false;
    }
    switch (WriteOne(packet, length, partial)) {
      case WriteResult::kOk:
        return true;
      case WriteResult::kAgain:
        Enqueue(packet, length, partial);
        return false;
      case WriteResult::kDropped:
      case WriteResult::kFatal:
        return false;
    }
    return false;
  }

  WriteResult WriteOne(const uint8_t* packet, size_t length, bool partial) {
    ztun::virtio_net_hdr hdr;
    iovec iov[2];
    size_t total = length;
    if (vnet_) {
      // A zeroed header: no GSO, the checksum is complete (the kernel verifies it as for any packet). A packet
      // that was partial on read goes back NEEDS_CSUM: the kernel's receiver trusts it (CHECKSUM_PARTIAL) and
      // a forwarding path completes it only if it must.
      memset(&hdr, 0, sizeof hdr);
      if (partial) {
        uint16_t start;
        uint16_t offset;
        if (!ztun::StandardChecksumLayout(packet, length, &start, &offset)) {
          counters_[kTxDropped] += 1;  // flagged partial but not TCP/UDP right after the IP header: refused
          return WriteResult::kDropped;
        }
        hdr.flags = ztun::VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr.csum_start = start;
        hdr.csum_offset = offset;
      }
      iov[0].iov_base = &hdr;
      iov[0].iov_len = ztun::kVnetHdrSize;
      iov[1].iov_base = const_cast<uint8_t*>(packet);
      iov[1].iov_len = length;
      total += ztun::kVnetHdrSize;
    }
    for (;;) {
      ssize_t n = vnet_ ? writev(fd_, iov, 2) : write(fd_, packet, length);
      if (n >= 0 && static_cast<size_t>(n) == total) {
        counters_[kTxPackets] += 1;
        counters_[kTxBytes] += static_cast<double>(length);
        reportedEio_ = false;  // the next spell of EIO (link down again) is reported again
        return WriteResult::kOk;
      }
      if (n >= 0) {
        // A short write: a TUN takes a packet whole or not at all (tun_get_user), but an adopted fd (a
        // stream) may cut it. What went out is no packet the peer can use: count it as dropped, not sent.
        counters_[kTxDropped] += 1;
        return WriteResult::kDropped;
      }
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return WriteResult::kAgain;
      counters_[kTxDropped] += 1;
      // ENOBUFS: the kernel could not allocate the skb (net/core/sock.c sock_alloc_send_pskb returns EAGAIN
      // only while the send buffer is full, ENOBUFS when the allocation fails). tun_chr_poll reports POLLOUT
      // from the send buffer alone, so waiting for writability would return at once and spin while memory
      // stays short. Drop it, as the kernel drops packets it has no memory for (send(2): "Normally, this does
      // not occur in Linux. Packets are just silently dropped when a device queue overflows.").
      if (err == ENOBUFS) return WriteResult::kDropped;
      if (IsFatal(err)) {
        Fail("write", err);
        return WriteResult::kFatal;
      }
      // A packet the kernel refuses (EINVAL: not IPv4/IPv6, EMSGSIZE, EIO while the link is down): counted.
      // EIO is also reported, once per spell, since it usually means the link went down under us.
      if (err == EIO && !reportedEio_) {
        reportedEio_ = true;
        ReportError("write", err);
      }
      return WriteResult::kDropped;
    }
  }

  void Enqueue(const uint8_t* packet, size_t length, bool partial) {
    if (queueSize_ >= queueLimit_) {
      counters_[kTxDropped] += 1;
      return;
    }
    size_t index = (queueHead_ + queueSize_) % queueLimit_;
    std::vector<uint8_t>& slot = queue_[index];
    slot.assign(packet, packet + length);  // reuses the slot's capacity once warmed up
    queuePartial_[index] = partial;
    ++queueSize_;
  }

  void Flush() {
    while (queueSize_ > 0 && !failed_ && !closed_) {
      std::vector<uint8_t>& slot = queue_[queueHead_];
      WriteResult r = WriteOne(slot.data(), slot.size(), queuePartial_[queueHead_]);
      if (r == WriteResult::kAgain) return;  // still full: keep waiting for UV_WRITABLE
      if (closed_ || queueSize_ == 0) return;  // an error listener closed us, or Fail dropped the queue
      queueHead_ = (queueHead_ + 1) % queueLimit_;
      --queueSize_;
      if (r == WriteResult::kFatal) return;
    }
    if (queueSize_ == 0) queueHead_ = 0;
  }

  // Reads one packet into slot `count`; returns its length, 0 when it was dropped (counted), -1 when the fd
  // is drained, -2 after a fatal error.
  ssize_t ReadOne(uint32_t count, uint32_t* refused) {
    uint8_t* slot = slab_ + static_cast<size_t>(count) * slotSize_;
    for (;;) {
      ssize_t n;
      ztun::virtio_net_hdr hdr;
      if (vnet_) {
        // The header lands apart from the packet, so the packet starts where the batch offsets point.
        iovec iov[2] = {{&hdr, ztun::kVnetHdrSize}, {slot, slotSize_}};
        n = readv(fd_, iov, 2);
        if (n > 0) {
          if (static_cast<size_t>(n) <= ztun::kVnetHdrSize || hdr.gso_type != ztun::VIRTIO_NET_HDR_GSO_NONE) {
            counters_[kRxDropped] += 1;  // no packet, or GSO (never advertised, so never expected)
            return 0;
          }
          n -= static_cast<ssize_t>(ztun::kVnetHdrSize);
        }
      } else {
        n = read(fd_, slot, slotSize_);
      }
      if (n > 0 && static_cast<size_t>(n) >= slotSize_) {
        // Slots are larger than the MTU, so a full slot means the kernel cut a bigger packet: drop it.
        counters_[kRxDropped] += 1;
        return 0;
      }
      if (n > 0) {
        if (vnet_ && !TakeChecksumFlag(slot, static_cast<size_t>(n), hdr, count)) {
          counters_[kRxDropped] += 1;
          return 0;
        }
        return n;
      }
      if (n == 0) return -1;
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return -1;
      // Defensive: some kernels fail an oversize read with EFAULT (and free the packet) instead of cutting it.
      if ((err == EFAULT || err == EMSGSIZE || err == EINVAL) && ++*refused <= batchSize_) {
        counters_[kRxDropped] += 1;
        return 0;
      }
      Fail("read", err);
      return -2;
    }
  }

  // Records the checksum-partial flag of an offload packet; false when its header is unusable.
  bool TakeChecksumFlag(uint8_t* slot, size_t len, const ztun::virtio_net_hdr& hdr, uint32_t index) {
    uint8_t flag = 0;
    if ((hdr.flags & ztun::VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) {
      uint16_t start;
      uint16_t offset;
      if (ztun::StandardChecksumLayout(slot, len, &start, &offset) && start == hdr.csum_start &&
          offset == hdr.csum_offset) {
        flag = kChecksumPartial;
      } else if (static_cast<size_t>(hdr.csum_start) + hdr.csum_offset + 2 <= len) {
        // Any other layout (IPv6 extension headers…): finish it here, consumers see a plain packet.
        ztun::CompleteChecksum(slot, len, hdr.csum_start, hdr.csum_offset);
      } else {
        return false;
      }
    }
    flags_[index] = flag;
    return true;
  }

  // Reads and delivers up to maxBatchesPerWake batches. Returns false when the TunIo let go during a call
  // into JS (closed, or the environment is going away): the caller must not touch it any more.
  bool ReadBatches(PollHandle* handle) {
    for (uint32_t round = 0; round < maxBatchesPerWake_; ++round) {
      uint32_t count = 0;
      uint32_t refused = 0;
      bool drained = false;
      while (count < batchSize_) {
        ssize_t n = ReadOne(count, &refused);
        if (n == 0) continue;
        if (n < 0) {
          drained = true;
          break;
        }
        lengths_[count++] = static_cast<uint32_t>(n);
        counters_[kRxPackets] += 1;
        counters_[kRxBytes] += static_cast<double>(n);
      }
      if (count > 0) {
        napi_env env = Env();
        ztun::RawHandleScope scope(env);
        napi_value arg = nullptr;
        napi_create_uint32(env, count, &arg);
        CallJs(onBatch_, 1, &arg);
        if (handle->owner != this) return false;
      }
      if (drained || !reading_ || closed_ || failed_) break;
    }
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

  void Fail(const char* operation, int err) {
    if (failed_) return;
    failed_ = true;
    reading_ = false;
    counters_[kTxDropped] += static_cast<double>(queueSize_);
    queueSize_ = 0;
    queueHead_ = 0;
    UpdatePoll();
    ReportError(operation, err);
  }

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
    if (!closed_ && !failed_) {
      if (reading_) want |= UV_READABLE;
      if (queueSize_ > 0) want |= UV_WRITABLE;
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
      Fail("poll", -rc);
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
      if (read(self->fd_, probe, 0) < 0 && errno != EAGAIN) err = errno;
      self->Fail("poll", err);
      return;
    }
    if ((events & UV_WRITABLE) != 0) self->Flush();
    if (handle->owner != self) return;
    if ((events & UV_READABLE) != 0 && self->reading_ && !self->closed_ && !self->failed_) {
      if (!self->ReadBatches(handle)) return;
    }
    self->UpdatePoll();
  }

  int fd_ = -1;
  std::string name_;
  PollHandle* handle_ = nullptr;
  bool referenced_ = false;
  bool inJsCall_ = false;
  int events_ = 0;
  bool reading_ = false;
  bool closed_ = false;
  bool failed_ = false;
  bool reportedEio_ = false;
  uint8_t* slab_ = nullptr;
  uint32_t* lengths_ = nullptr;
  double* counters_ = nullptr;
  uint32_t slotSize_ = 0;
  uint32_t batchSize_ = 0;
  uint32_t queueLimit_ = 0;
  uint32_t maxBatchesPerWake_ = 1;
  Napi::ObjectReference slabRef_;
  Napi::ObjectReference lengthsRef_;
  Napi::ObjectReference countersRef_;
  Napi::ObjectReference flagsRef_;
  uint8_t* flags_ = nullptr;
  bool vnet_ = false;
  std::vector<bool> queuePartial_;
  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
  std::vector<std::vector<uint8_t>> queue_;
  size_t queueHead_ = 0;
  size_t queueSize_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunIo", TunIo::Define(env));
  Napi::Array names = Napi::Array::New(env, kCounterCount);
  for (uint32_t i = 0; i < kCounterCount; ++i) names.Set(i, Napi::String::New(env, kCounterNames[i]));
  exports.Set("counterNames", names);
  exports.Set("counterCount", Napi::Number::New(env, kCounterCount));
  exports.Set("SpliceRelay", DefineSpliceRelay(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(ztun_tun, Init)
