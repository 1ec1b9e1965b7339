// The options of `new TunIo({...})`, read by name (src/tun-io.linux.ts declares the same names as
// TunIoOptions), so neither side depends on an argument order copied by hand.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace ztun {

struct TunIoOptions {
  // Exactly one of: an fd to adopt (tests: any non-blocking datagram fd), or a TUN device to open.
  int fd = -1;
  bool openDevice = false;
  std::string devicePath;
  std::string deviceName;
  bool offload = false;  // IFF_VNET_HDR: a virtio_net_hdr before every packet both ways
  bool writeThread = false;  // writes go through a thread of their own (tun_writer.h)
  Napi::ArrayBuffer slab;
  Napi::Uint32Array lengths;
  Napi::Float64Array counters;
  Napi::Uint8Array flags;      // one byte per slot; required with offload
  Napi::Uint16Array gsoSizes;  // one per slot (GSO segment size, 0: plain); required with offload
  unsigned tsoFlags = 0x0e;    // TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN asked for with offload; 0: checksum only
  uint32_t slotSize = 0;
  uint32_t batchSize = 0;
  uint32_t queueLimit = 0;
  uint32_t batchesPerWake = 0;
  Napi::Function onBatch;
  Napi::Function onError;
};

namespace detail {

inline bool Fail(Napi::Env env, const std::string& what) {
  Napi::TypeError::New(env, "TunIo: option " + what).ThrowAsJavaScriptException();
  return false;
}

inline bool ReadUint(Napi::Object o, const char* key, uint32_t min, uint32_t max, uint32_t* out) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    return Fail(o.Env(), std::string(key) + " must be an integer in " + std::to_string(min) + "…" +
                             std::to_string(max));
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

template <typename T>
bool ReadTyped(Napi::Object o, const char* key, napi_typedarray_type type, const char* typeName, T* out) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    return Fail(o.Env(), std::string(key) + " must be a " + typeName);
  }
  *out = v.As<T>();
  return true;
}

inline bool ReadFunction(Napi::Object o, const char* key, Napi::Function* out) {
  Napi::Value v = o.Get(key);
  if (!v.IsFunction()) return Fail(o.Env(), std::string(key) + " must be a function");
  *out = v.As<Napi::Function>();
  return true;
}

}  // namespace detail

// The data of a typed array of type `want` (element count in *length), without throwing: false otherwise.
inline bool TypedArrayOf(napi_env env, napi_value value, napi_typedarray_type want, uint8_t** data,
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

inline bool TypedArrayOf(napi_env env, napi_value value, napi_typedarray_type want, uint32_t** data,
                         size_t* elements) {
  uint8_t* raw;
  if (!TypedArrayOf(env, value, want, &raw, elements)) return false;
  *data = reinterpret_cast<uint32_t*>(raw);
  return true;
}

inline bool TypedArrayOf(napi_env env, napi_value value, napi_typedarray_type want, uint16_t** data,
                         size_t* elements) {
  uint8_t* raw;
  if (!TypedArrayOf(env, value, want, &raw, elements)) return false;
  *data = reinterpret_cast<uint16_t*>(raw);
  return true;
}

// Reads and checks every option; on a bad one throws a TypeError naming it and returns false.
inline bool ReadTunIoOptions(Napi::Env env, const Napi::CallbackInfo& info, size_t counterCount, TunIoOptions* out) {
  using namespace detail;
  if (info.Length() < 1 || !info[0].IsObject()) return Fail(env, "object expected: new TunIo({ fd | device, … })");
  Napi::Object o = info[0].As<Napi::Object>();

  Napi::Value fd = o.Get("fd");
  Napi::Value device = o.Get("device");
  if (fd.IsUndefined() == device.IsUndefined()) return Fail(env, "fd or device: exactly one is needed");
  if (!fd.IsUndefined()) {
    uint32_t value;
    if (!ReadUint(o, "fd", 0, INT32_MAX, &value)) return false;
    out->fd = static_cast<int>(value);
  } else {
    if (!device.IsObject()) return Fail(env, "device must be { path, name }");
    Napi::Object d = device.As<Napi::Object>();
    Napi::Value path = d.Get("path");
    Napi::Value name = d.Get("name");
    if (!path.IsString() || !name.IsString()) return Fail(env, "device must be { path: string, name: string }");
    out->openDevice = true;
    out->devicePath = path.As<Napi::String>().Utf8Value();
    out->deviceName = name.As<Napi::String>().Utf8Value();
  }

  Napi::Value slab = o.Get("slab");
  if (!slab.IsArrayBuffer()) return Fail(env, "slab must be an ArrayBuffer");
  out->slab = slab.As<Napi::ArrayBuffer>();
  if (!ReadTyped(o, "lengths", napi_uint32_array, "Uint32Array", &out->lengths) ||
      !ReadTyped(o, "counters", napi_float64_array, "Float64Array", &out->counters) ||
      !ReadUint(o, "slotSize", 1, 1 << 20, &out->slotSize) || !ReadUint(o, "batchSize", 1, 65536, &out->batchSize) ||
      !ReadUint(o, "queueLimit", 0, 1 << 20, &out->queueLimit) ||
      !ReadUint(o, "batchesPerWake", 1, 1024, &out->batchesPerWake) || !ReadFunction(o, "onBatch", &out->onBatch) ||
      !ReadFunction(o, "onError", &out->onError)) {
    return false;
  }
  Napi::Value offload = o.Get("offload");
  if (!offload.IsUndefined() && !offload.IsBoolean()) return Fail(env, "offload must be a boolean");
  out->offload = offload.IsBoolean() && offload.As<Napi::Boolean>().Value();
  Napi::Value writeThread = o.Get("writeThread");
  if (!writeThread.IsUndefined() && !writeThread.IsBoolean()) return Fail(env, "writeThread must be a boolean");
  out->writeThread = writeThread.IsBoolean() && writeThread.As<Napi::Boolean>().Value();
  if (out->offload && (!ReadTyped(o, "flags", napi_uint8_array, "Uint8Array (needed with offload)", &out->flags) ||
                       !ReadTyped(o, "gsoSizes", napi_uint16_array, "Uint16Array (needed with offload)",
                                  &out->gsoSizes))) {
    return false;
  }
  // tsoFlags: the TSO bits asked for with TUN_F_CSUM (tests add a bit the kernel does not know, to see it
  // refuse and the device fall back to checksum offload alone).
  if (!o.Get("tsoFlags").IsUndefined()) {
    uint32_t tso;
    if (!ReadUint(o, "tsoFlags", 0, UINT32_MAX, &tso)) return false;
    out->tsoFlags = tso;
  }

  if (out->slab.ByteLength() < static_cast<size_t>(out->slotSize) * out->batchSize)
    return Fail(env, "slab is smaller than slotSize × batchSize");
  if (out->lengths.ElementLength() < out->batchSize) return Fail(env, "lengths has fewer than batchSize elements");
  if (out->counters.ElementLength() < counterCount)
    return Fail(env, "counters has fewer than counterCount (" + std::to_string(counterCount) + ") elements");
  if (out->offload && out->flags.ElementLength() < out->batchSize)
    return Fail(env, "flags has fewer than batchSize elements");
  if (out->offload && out->gsoSizes.ElementLength() < out->batchSize)
    return Fail(env, "gsoSizes has fewer than batchSize elements");
  return true;
}

}  // namespace ztun
