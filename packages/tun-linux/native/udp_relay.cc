// The batch UDP path (issue 17 item 4): one UdpRelay owns one session's UDP socket fd, sends a whole batch of
// the session's datagrams with one sendmmsg(2), and on readable (uv_poll) drains it with recvmmsg(2) into a
// slab owned by JS, calling JS once per drain — not once per datagram. SOCKS5 UDP ASSOCIATE framing (RFC 1928
// §7) is added on send (an iovec in front of the payload: no copy) and stripped on receive in the same pass,
// and datagrams from anyone but the relay are dropped (§7) and counted. With replyTo() set, each received
// payload gets its IP + UDP reply header written in front of it in the slab (native/udp_frame.h), so JS only
// hands the slab to the TUN's writeBatch. Without it, JS gets payloads and senders (the per-datagram API).
//
// Lifetime as in tun_io.cc: the uv_poll_t lives in a RelayHandle that outlives the UdpRelay until libuv's
// close callback; an async environment cleanup hook closes a relay still open at teardown.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "js_call.h"
#include "tun_io_options.h"
#include "udp_send.h"
#include "udp_socket_io.h"

namespace {

using ztun::JsCall;
namespace udp = ztun::udp;


class UdpRelay;

struct RelayHandle {
  uv_poll_t poll;  // first member: libuv hands back &poll
  UdpRelay* owner;
  napi_async_cleanup_hook_handle teardownHook;
};

using udp::kBatch;
using udp::kStatCount;

// recvmmsg calls per wake-up (the rest waits for the next turn of the loop, so one busy session cannot
// starve the others or the TUN).
constexpr uint32_t kRoundsPerWake = 4;
// SO_SNDBUF / SO_RCVBUF asked for (the kernel doubles it for its bookkeeping, socket(7)).
constexpr int kSocketBuffer = 4 << 20;

class UdpRelay : public Napi::ObjectWrap<UdpRelay> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpRelay",
                       {
                           InstanceMethod<&UdpRelay::ReplyTo>("replyTo"),
                           InstanceMethod<&UdpRelay::Send>("send"),
                           InstanceMethod<&UdpRelay::Close>("close"),
                           InstanceMethod<&UdpRelay::Stats>("stats"),
                           InstanceAccessor<&UdpRelay::LocalPort>("localPort"),
                           InstanceAccessor<&UdpRelay::GsoSends>("gsoSends"),
                       });
  }

  // new UdpRelay({ fd, family, socks5Address?, socks5Port?, gso?, slab, offsets, lengths, from, fromPorts,
  //                onRecv(count, foreign, badReply), onError(errno) })
  //   gso: false sends every datagram as its own message (no UDP_SEGMENT groups, udp_send.h); default true.
  //   onRecv: once per recvmmsg that delivered or dropped anything: datagrams in the slab, and those dropped
  //   (from a sender other than the SOCKS5 relay; not fit for a reply packet).
  //   slab: Uint8Array of kBatch × slotSize bytes (slotSize = slab.length / kBatch ≥ kHeadroom + 65536);
  //   offsets/lengths: Uint32Array(kBatch); from: Uint8Array(kBatch × 16); fromPorts: Uint32Array(kBatch),
  //   port | 0x10000 for an IPv6 sender. The arrays may be shared by every relay (all run on one thread).
  explicit UdpRelay(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpRelay>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "new UdpRelay(options)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    if (!o.Get("fd").IsNumber()) {
      Napi::TypeError::New(env, "UdpRelay: fd expected").ThrowAsJavaScriptException();
      return;
    }
    // Ours from here on: every failure below closes it.
    fd_ = o.Get("fd").As<Napi::Number>().Int32Value();
    size_t n;
    uint32_t* u32;
    if (!o.Get("family").IsNumber() ||
        !ztun::TypedArrayOf(env, o.Get("slab"), napi_uint8_array, &slab_.data, &slabLength_) ||
        !ztun::TypedArrayOf(env, o.Get("offsets"), napi_uint32_array, &slab_.offsets, &n) || n < kBatch ||
        !ztun::TypedArrayOf(env, o.Get("lengths"), napi_uint32_array, &slab_.lengths, &n) || n < kBatch ||
        !ztun::TypedArrayOf(env, o.Get("from"), napi_uint8_array, &slab_.from, &n) || n < kBatch * 16 ||
        !ztun::TypedArrayOf(env, o.Get("fromPorts"), napi_uint32_array, &u32, &n) || n < kBatch ||
        !o.Get("onRecv").IsFunction() || !o.Get("onError").IsFunction()) {
      Release();
      Napi::TypeError::New(env, "UdpRelay: bad options").ThrowAsJavaScriptException();
      return;
    }
    slab_.fromPorts = u32;
    slab_.slotSize = static_cast<uint32_t>(slabLength_ / kBatch);
    if (slab_.slotSize < udp::kHeadroom + 65536) {
      Release();
      Napi::RangeError::New(env, "UdpRelay: slab too small").ThrowAsJavaScriptException();
      return;
    }
    peer_.family = o.Get("family").As<Napi::Number>().Int32Value() == 6 ? 6 : 4;
    gso_.enabled = !o.Get("gso").StrictEquals(Napi::Boolean::New(env, false));
    Napi::Value sa = o.Get("socks5Address");
    if (!sa.IsUndefined()) {
      uint8_t* a;
      size_t alen;
      if (!ztun::TypedArrayOf(env, sa, napi_uint8_array, &a, &alen) || alen != (peer_.family == 4 ? 4u : 16u) ||
          !o.Get("socks5Port").IsNumber()) {
        Release();
        Napi::TypeError::New(env, "UdpRelay: socks5Address must match family").ThrowAsJavaScriptException();
        return;
      }
      peer_.socks5 = true;
      memcpy(peer_.relayAddr, a, alen);
      peer_.relayPort = o.Get("socks5Port").As<Napi::Number>().Uint32Value();
      peer_.relayLen = udp::SockaddrOf(&peer_.relay, peer_.family, peer_.relayAddr, peer_.relayPort);
    }
    for (Napi::Value v : {o.Get("slab"), o.Get("offsets"), o.Get("lengths"), o.Get("from"), o.Get("fromPorts")})
      keep_[keepCount_++] = Napi::Persistent(v.As<Napi::Object>());
    onRecv_ = Napi::Persistent(o.Get("onRecv").As<Napi::Function>());
    onError_ = Napi::Persistent(o.Get("onError").As<Napi::Function>());

    // Room for a whole burst each way: a TUN batch is sent at once (sendmmsg), and a full send buffer drops
    // (EAGAIN; Node's dgram would queue instead). SO_*BUFFORCE (CAP_NET_ADMIN) passes net.core.*mem_max.
    for (int opt : {SO_SNDBUFFORCE, SO_RCVBUFFORCE}) {
      int size = kSocketBuffer;
      if (setsockopt(fd_, SOL_SOCKET, opt, &size, sizeof(size)) != 0) {
        int fallback = opt == SO_SNDBUFFORCE ? SO_SNDBUF : SO_RCVBUF;
        setsockopt(fd_, SOL_SOCKET, fallback, &size, sizeof(size));
      }
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* handle = new RelayHandle{};
    int rc = uv_poll_init(loop, &handle->poll, fd_);
    if (rc != 0) {
      delete handle;
      Release();
      Napi::Error::New(env, std::string("UdpRelay: uv_poll_init: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    handle->owner = this;
    if (napi_add_async_cleanup_hook(env, OnEnvTeardown, handle, &handle->teardownHook) != napi_ok)
      handle->teardownHook = nullptr;
    handle_ = handle;
    rc = uv_poll_start(&handle->poll, UV_READABLE, OnPoll);
    if (rc != 0) {
      Release();
      Napi::Error::New(env, std::string("UdpRelay: uv_poll_start: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    Ref();  // an open relay keeps its object alive; close() lets go
    referenced_ = true;
  }

  ~UdpRelay() override {
    referenced_ = false;
    Release();
  }

 private:
  Napi::Value LocalPort(const Napi::CallbackInfo& info) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const uint8_t* a;
    uint32_t alen, port = 0;
    if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0 || !udp::AddrFrom(ss, &a, &alen, &port))
      return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), port);
  }

  // gsoSends: messages sent as a UDP GSO group of ≥ 2 datagrams so far (udp_send.h).
  Napi::Value GsoSends(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(stats_[udp::kGsoSends]));
  }

  // replyTo(client: Uint8Array(4|16), clientPort): from now on received payloads become reply packets to
  // client:clientPort (IPv4 or IPv6 by the address length) in the slab; senders of another family are refused.
  Napi::Value ReplyTo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* a;
    size_t alen;
    if (info.Length() < 2 || !ztun::TypedArrayOf(env, info[0], napi_uint8_array, &a, &alen) ||
        (alen != 4 && alen != 16) || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "replyTo(client: Uint8Array, port)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    memcpy(peer_.client, a, alen);
    peer_.clientLen = static_cast<uint32_t>(alen);
    peer_.clientPort = info[1].As<Napi::Number>().Uint32Value();
    return env.Undefined();
  }

  // send(data, offsets, lengths, dsts, dports, count, dstFamily, errIndex, errCode) -> errors
  //   Datagram i = data[offsets[i], +lengths[i]) to the address at dsts[16i…] (4 or 16 bytes by dstFamily)
  //   port dports[i]: direct, to that address (dstFamily must be the socket's); SOCKS5, to the relay, framed.
  //   EAGAIN/ENOBUFS drop the datagram (counted in stats); any other error is reported as (index, errno) in
  //   errIndex/errCode and the rest is still sent. Returns the number of errors reported.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t *data, *dsts;
    uint32_t *offs, *lens, *ports, *errIndex, *errCode;
    size_t dataLen, n1, n2, n3, n4, n5, n6;
    if (info.Length() < 9 || !ztun::TypedArrayOf(env, info[0], napi_uint8_array, &data, &dataLen) ||
        !ztun::TypedArrayOf(env, info[1], napi_uint32_array, &offs, &n1) ||
        !ztun::TypedArrayOf(env, info[2], napi_uint32_array, &lens, &n2) ||
        !ztun::TypedArrayOf(env, info[3], napi_uint8_array, &dsts, &n3) ||
        !ztun::TypedArrayOf(env, info[4], napi_uint32_array, &ports, &n4) || !info[5].IsNumber() ||
        !info[6].IsNumber() || !ztun::TypedArrayOf(env, info[7], napi_uint32_array, &errIndex, &n5) ||
        !ztun::TypedArrayOf(env, info[8], napi_int32_array, &errCode, &n6)) {
      Napi::TypeError::New(env, "send(data, offsets, lengths, dsts, dports, count, dstFamily, errIndex, errCode)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t count = info[5].As<Napi::Number>().Uint32Value();
    int dstFamily = info[6].As<Napi::Number>().Int32Value() == 6 ? 6 : 4;
    uint32_t alen = dstFamily == 4 ? 4 : 16;
    if (count > n1 || count > n2 || count > n4 || count * 16 > n3) {
      Napi::RangeError::New(env, "send: count exceeds the arrays").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ < 0) return Napi::Number::New(env, 0);
    if (!peer_.socks5 && dstFamily != peer_.family) {
      Napi::RangeError::New(env, "send: destination family differs from the socket's").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    udp::SendBatchArgs args{data,  dataLen, offs, lens, dsts, ports, count, alen, errIndex,
                            reinterpret_cast<int32_t*>(errCode), static_cast<uint32_t>(n5 < n6 ? n5 : n6)};
    uint32_t errors = udp::SendBatch(fd_, peer_, gso_, args, stats_);
    return Napi::Number::New(env, errors);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, kStatCount);
    for (uint32_t i = 0; i < kStatCount; ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(stats_[i])));
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    if (handle_ != nullptr) {
      RelayHandle* handle = handle_;
      handle_ = nullptr;
      handle->owner = nullptr;
      uv_poll_stop(&handle->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), OnPollClosed);
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
    if (referenced_) {
      referenced_ = false;
      uint32_t count;
      napi_reference_unref(Env(), static_cast<napi_ref>(*this), &count);
    }
  }

  static void OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
    auto* handle = static_cast<RelayHandle*>(arg);
    if (handle->owner != nullptr) handle->owner->Release();
  }

  static void OnPollClosed(uv_handle_t* h) {
    auto* handle = reinterpret_cast<RelayHandle*>(h);
    if (handle->teardownHook != nullptr) napi_remove_async_cleanup_hook(handle->teardownHook);
    delete handle;
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* handle = reinterpret_cast<RelayHandle*>(h);
    UdpRelay* self = handle->owner;
    if (self == nullptr) return;
    if (status < 0) {
      self->ReportError(-status);
      return;
    }
    for (uint32_t round = 0; round < kRoundsPerWake; ++round) {
      int got = self->Drain();
      if (handle->owner != self) return;  // closed from JS during the callback
      if (got < static_cast<int>(kBatch)) return;
    }
  }

  // One recvmmsg of up to kBatch datagrams (udp_socket_io.h), then one call into JS. Returns the number of
  // datagrams read (-1 after a failure, reported).
  int Drain() {
    udp::RecvResult r = udp::RecvBatch(fd_, peer_, slab_, stats_);
    if (r.read < 0) {
      ReportError(-r.read);
      return -1;
    }
    if (r.out > 0 || r.foreign > 0 || r.bad > 0) {
      napi_env env = Env();
      ztun::RawHandleScope scope(env);
      napi_value args[3] = {nullptr, nullptr, nullptr};
      napi_create_uint32(env, r.out, &args[0]);
      napi_create_uint32(env, r.foreign, &args[1]);
      napi_create_uint32(env, r.bad, &args[2]);
      CallJs(onRecv_, 3, args);
    }
    return r.read;
  }

  void ReportError(int err) {
    if (handle_ != nullptr) uv_poll_stop(&handle_->poll);
    napi_env env = Env();
    ztun::RawHandleScope scope(env);
    napi_value arg = nullptr;
    napi_create_int32(env, err, &arg);
    CallJs(onError_, 1, &arg);
  }

  void CallJs(const Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
    napi_env env = Env();
    JsCall r = ztun::MakeCallback(env, static_cast<napi_ref>(*this), static_cast<napi_ref>(fn), argc, argv);
    if (r == JsCall::kThrew) ztun::ReportUncaught(env);
    if (r == JsCall::kNoJs) Release();
  }

  int fd_ = -1;
  udp::Peer peer_;
  udp::GsoState gso_;
  udp::Slab slab_;
  size_t slabLength_ = 0;
  uint64_t stats_[kStatCount] = {};
  RelayHandle* handle_ = nullptr;
  bool referenced_ = false;
  Napi::ObjectReference keep_[5];
  uint32_t keepCount_ = 0;
  Napi::FunctionReference onRecv_;
  Napi::FunctionReference onError_;
};

}  // namespace

// Exported from the addon by tun_io.cc's Init.
Napi::Function DefineUdpRelay(Napi::Env env) { return UdpRelay::Define(env); }
