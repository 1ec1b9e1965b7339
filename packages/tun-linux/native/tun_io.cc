// Packet hot path for @ztun/tun-linux: polls a non-blocking packet fd (a TUN fd, or any datagram fd in
// tests) on the libuv loop, reads batches into a slab owned by JS and calls JS once per batch, and writes
// batches in one native call with a bounded queue for what the kernel does not take now.
//
// Nothing here allocates per packet: reads land in the preallocated slab; the write queue is a ring of
// reusable buffers that only grow while warming up, and is used only after EAGAIN.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

// native/splice_relay.cc: the zero-copy socket relay, exported from the same addon.
Napi::Function DefineSpliceRelay(Napi::Env env);

namespace {

// Indexes into the Float64Array of counters shared with JS (order mirrors DeviceCounters in src/).
enum Counter : int {
  kRxPackets = 0,
  kRxBytes,
  kTxPackets,
  kTxBytes,
  kRxDropped,
  kTxDropped,
  kCounterCount,
};

enum class WriteResult { kOk, kAgain, kDropped, kFatal };

// Per-packet flag bits shared with JS (PacketBatch.flags, docs/architecture.md).
constexpr uint8_t kChecksumPartial = 1;

// With IFF_VNET_HDR (the device's `offload` option) every read and write starts with this header
// (TUNSETVNETHDRSZ 10; fields in the host's byte order: legacy virtio is little-endian and so are the hosts
// ztun runs on, x86-64 and arm64).
// (Declared here: <linux/virtio_net.h> does not compile as C++, it has a field named `class`.)
struct virtio_net_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr size_t kVnetHdrSize = sizeof(virtio_net_hdr);
static_assert(kVnetHdrSize == 10, "struct virtio_net_hdr is 10 bytes");

// Where a TCP/UDP checksum that covers the pseudo header lives when the transport header directly follows
// the IP header (the only layout flagged partial): sets start/offset and returns true.
bool StandardChecksumLayout(const uint8_t* p, size_t length, uint16_t* start, uint16_t* offset) {
  if (length < 20) return false;
  uint8_t proto;
  size_t l4;
  if ((p[0] >> 4) == 4) {
    l4 = static_cast<size_t>(p[0] & 0x0f) * 4;
    proto = p[9];
  } else if ((p[0] >> 4) == 6 && length >= 40) {
    l4 = 40;
    proto = p[6];
  } else {
    return false;
  }
  size_t at = proto == 6 ? 16 : proto == 17 ? 6 : 0;
  if (at == 0 || l4 + at + 2 > length) return false;
  *start = static_cast<uint16_t>(l4);
  *offset = static_cast<uint16_t>(at);
  return true;
}

// Finishes a partial checksum in place, as a NIC would: the one's-complement sum of p[start, length) (the
// field already holds the pseudo-header sum), complemented, stored at start + offset.
void CompleteChecksum(uint8_t* p, size_t length, size_t start, size_t offset) {
  uint64_t sum = 0;
  size_t i = start;
  for (; i + 1 < length; i += 2) sum += (static_cast<uint32_t>(p[i]) << 8) | p[i + 1];
  if (i < length) sum += static_cast<uint32_t>(p[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t check = static_cast<uint16_t>(~sum & 0xffff);
  p[start + offset] = static_cast<uint8_t>(check >> 8);
  p[start + offset + 1] = static_cast<uint8_t>(check);
}

// Errors after which the fd is useless: the device vanished or the fd was closed under us.
bool IsFatal(int err) {
  return err == EBADF || err == EBADFD || err == ENODEV || err == ENXIO || err == EPIPE;
}

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
                       });
  }

  // new TunIo(fd, slab: ArrayBuffer, lengths: Uint32Array, slotSize, batchSize, queueLimit,
  //           counters: Float64Array, onBatch(count), onError(operation, errno), maxBatchesPerWake,
  //           flags?: Uint8Array)
  // With `flags` (one byte per slot) the fd is an IFF_VNET_HDR TUN: reads strip the virtio_net_hdr and record
  // kChecksumPartial per packet; writes prepend one.
  explicit TunIo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunIo>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 10 || !info[0].IsNumber() || !info[1].IsArrayBuffer() || !info[2].IsTypedArray() ||
        !info[3].IsNumber() || !info[4].IsNumber() || !info[5].IsNumber() || !info[6].IsTypedArray() ||
        !info[7].IsFunction() || !info[8].IsFunction() || !info[9].IsNumber()) {
      Napi::TypeError::New(env, "TunIo: bad arguments").ThrowAsJavaScriptException();
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::ArrayBuffer slab = info[1].As<Napi::ArrayBuffer>();
    Napi::Uint32Array lengths = info[2].As<Napi::Uint32Array>();
    slotSize_ = info[3].As<Napi::Number>().Uint32Value();
    batchSize_ = info[4].As<Napi::Number>().Uint32Value();
    queueLimit_ = info[5].As<Napi::Number>().Uint32Value();
    Napi::Float64Array counters = info[6].As<Napi::Float64Array>();
    maxBatchesPerWake_ = info[9].As<Napi::Number>().Uint32Value();
    if (fd_ < 0 || slotSize_ == 0 || batchSize_ == 0 || maxBatchesPerWake_ == 0 ||
        slab.ByteLength() < static_cast<size_t>(slotSize_) * batchSize_ || lengths.ElementLength() < batchSize_ ||
        counters.ElementLength() < kCounterCount) {
      Napi::RangeError::New(env, "TunIo: slab, lengths or counters too small").ThrowAsJavaScriptException();
      return;
    }
    slab_ = static_cast<uint8_t*>(slab.Data());
    lengths_ = lengths.Data();
    counters_ = counters.Data();
    slabRef_ = Napi::Persistent(static_cast<Napi::Object>(slab));
    lengthsRef_ = Napi::Persistent(static_cast<Napi::Object>(lengths));
    countersRef_ = Napi::Persistent(static_cast<Napi::Object>(counters));
    onBatch_ = Napi::Persistent(info[7].As<Napi::Function>());
    onError_ = Napi::Persistent(info[8].As<Napi::Function>());
    if (info.Length() > 10 && !info[10].IsUndefined()) {
      uint8_t* flags;
      size_t flagsLength;
      if (!TypedArrayOf(env, info[10], napi_uint8_array, &flags, &flagsLength) || flagsLength < batchSize_) {
        Napi::TypeError::New(env, "TunIo: flags must be a Uint8Array of batchSize").ThrowAsJavaScriptException();
        return;
      }
      flags_ = flags;
      flagsRef_ = Napi::Persistent(info[10].As<Napi::Object>());
      vnet_ = true;
    }
    queue_.resize(queueLimit_);
    queuePartial_.resize(queueLimit_);

    poll_ = new uv_poll_t;
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      Napi::Error::New(env, std::string("TunIo: uv_poll_init: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    // Kept alive by its own reference until the poll handle is closed, so libuv never calls into freed memory.
    Ref();
  }

  ~TunIo() override {
    // Only reached after OnClosed (the self reference holds otherwise), or at environment teardown.
    if (poll_ != nullptr && !handleClosing_) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    }
  }

 private:
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
  //   -> packets written now
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
    if (queueSize_ > 0) UpdatePoll();
    return Napi::Number::New(env, written);
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
    bool now = SubmitPacket(data, length, false);
    if (queueSize_ > 0) UpdatePoll();
    return Napi::Number::New(env, now ? 1 : 0);
  }

  // close() -> number of queued packets dropped. The fd itself is closed by the caller afterwards.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Number::New(env, 0);
    closed_ = true;
    reading_ = false;
    size_t dropped = queueSize_;
    counters_[kTxDropped] += static_cast<double>(dropped);
    queueSize_ = 0;
    queueHead_ = 0;
    if (poll_ != nullptr) {
      // uv_poll_stop removes the fd from epoll at once, so the caller may close the fd right after.
      uv_poll_stop(poll_);
      events_ = 0;
      handleClosing_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnClosed);
    }
    return Napi::Number::New(env, static_cast<double>(dropped));
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
    virtio_net_hdr hdr;
    iovec iov[2];
    if (vnet_) {
      // A zeroed header: no GSO, the checksum is complete (the kernel verifies it as for any packet). A packet
      // that was partial on read goes back NEEDS_CSUM: the kernel's receiver trusts it (CHECKSUM_PARTIAL) and
      // a forwarding path completes it only if it must.
      memset(&hdr, 0, sizeof hdr);
      if (partial) {
        uint16_t start;
        uint16_t offset;
        if (!StandardChecksumLayout(packet, length, &start, &offset)) {
          counters_[kTxDropped] += 1;  // flagged partial but not TCP/UDP right after the IP header: refused
          return WriteResult::kDropped;
        }
        hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr.csum_start = start;
        hdr.csum_offset = offset;
      }
      iov[0].iov_base = &hdr;
      iov[0].iov_len = kVnetHdrSize;
      iov[1].iov_base = const_cast<uint8_t*>(packet);
      iov[1].iov_len = length;
    }
    for (;;) {
      ssize_t n = vnet_ ? writev(fd_, iov, 2) : write(fd_, packet, length);
      if (n >= 0) {
        counters_[kTxPackets] += 1;
        counters_[kTxBytes] += static_cast<double>(length);
        reportedEio_ = false;  // the next spell of EIO (link down again) is reported again
        return WriteResult::kOk;
      }
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return WriteResult::kAgain;
      counters_[kTxDropped] += 1;
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
      queueHead_ = (queueHead_ + 1) % queueLimit_;
      --queueSize_;
      if (r == WriteResult::kFatal) return;
    }
    if (queueSize_ == 0) queueHead_ = 0;
  }

  void ReadBatches() {
    Napi::Env env = Env();
    for (uint32_t round = 0; round < maxBatchesPerWake_; ++round) {
      uint32_t count = 0;
      uint32_t refused = 0;
      bool drained = false;
      while (count < batchSize_) {
        uint8_t* slot = slab_ + static_cast<size_t>(count) * slotSize_;
        ssize_t n;
        virtio_net_hdr hdr;
        if (vnet_) {
          // The header lands apart from the packet, so the packet starts where the batch offsets point.
          iovec iov[2] = {{&hdr, kVnetHdrSize}, {slot, slotSize_}};
          n = readv(fd_, iov, 2);
          if (n > 0) {
            if (static_cast<size_t>(n) <= kVnetHdrSize || hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
              counters_[kRxDropped] += 1;  // no packet, or GSO (never advertised, so never expected)
              continue;
            }
            n -= static_cast<ssize_t>(kVnetHdrSize);
          }
        } else {
          n = read(fd_, slot, slotSize_);
        }
        if (n > 0 && static_cast<size_t>(n) >= slotSize_) {
          // Slots are larger than the MTU, so a full slot means the kernel cut a bigger packet: drop it.
          counters_[kRxDropped] += 1;
          continue;
        }
        if (n > 0) {
          if (vnet_) {
            uint8_t flag = 0;
            if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) {
              uint16_t start;
              uint16_t offset;
              size_t len = static_cast<size_t>(n);
              if (StandardChecksumLayout(slot, len, &start, &offset) && start == hdr.csum_start &&
                  offset == hdr.csum_offset) {
                flag = kChecksumPartial;
              } else if (static_cast<size_t>(hdr.csum_start) + hdr.csum_offset + 2 <= len) {
                // Any other layout (IPv6 extension headers…): finish it here, consumers see a plain packet.
                CompleteChecksum(slot, len, hdr.csum_start, hdr.csum_offset);
              } else {
                counters_[kRxDropped] += 1;
                continue;
              }
            }
            flags_[count] = flag;
          }
          lengths_[count++] = static_cast<uint32_t>(n);
          counters_[kRxPackets] += 1;
          counters_[kRxBytes] += static_cast<double>(n);
          continue;
        }
        if (n == 0) {
          drained = true;
          break;
        }
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          drained = true;
          break;
        }
        // Defensive: some kernels fail an oversize read with EFAULT (and free the packet) instead of cutting it.
        if ((err == EFAULT || err == EMSGSIZE || err == EINVAL) && ++refused <= batchSize_) {
          counters_[kRxDropped] += 1;
          continue;
        }
        Fail("read", err);
        drained = true;
        break;
      }
      if (count > 0) {
        Napi::HandleScope scope(env);
        onBatch_.MakeCallback(Value(), {Napi::Number::New(env, count)});
        RethrowPending(env);
      }
      if (drained || !reading_ || closed_ || failed_) break;
    }
  }

  // JS wraps receivers in try/catch; anything still thrown goes to 'uncaughtException', as for any callback.
  static void RethrowPending(Napi::Env env) {
    if (!env.IsExceptionPending()) return;
    Napi::Error err = env.GetAndClearPendingException();
    napi_fatal_exception(env, err.Value());
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
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    onError_.MakeCallback(Value(), {Napi::String::New(env, operation), Napi::Number::New(env, err)});
    RethrowPending(env);
  }

  void UpdatePoll() {
    if (poll_ == nullptr || handleClosing_) return;
    int want = 0;
    if (!closed_ && !failed_) {
      if (reading_) want |= UV_READABLE;
      if (queueSize_ > 0) want |= UV_WRITABLE;
    }
    if (want == events_) return;
    events_ = want;
    if (want == 0) {
      uv_poll_stop(poll_);
      return;
    }
    int rc = uv_poll_start(poll_, want, OnPoll);
    if (rc != 0) {
      events_ = 0;
      Fail("poll", -rc);
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    TunIo* self = static_cast<TunIo*>(handle->data);
    if (self == nullptr || self->closed_) return;
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
    if ((events & UV_READABLE) != 0 && self->reading_ && !self->closed_ && !self->failed_) self->ReadBatches();
    self->UpdatePoll();
  }

  static void OnClosed(uv_handle_t* handle) {
    TunIo* self = static_cast<TunIo*>(handle->data);
    delete reinterpret_cast<uv_poll_t*>(handle);
    if (self != nullptr) {
      self->poll_ = nullptr;
      self->Unref();
    }
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool handleClosing_ = false;
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
  exports.Set("counterCount", Napi::Number::New(env, kCounterCount));
  exports.Set("SpliceRelay", DefineSpliceRelay(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(ztun_tun, Init)
