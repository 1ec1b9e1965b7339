// Socket options on raw fds for linuxSockets (src/sockets.linux.ts), one native call each instead of several
// koffi calls (issue 17 item 6: an outbound connection used to cost socket() + setsockopt() × 1–2 through
// koffi, and a piped end one getsockopt()). Nothing here keeps state; the fds are the caller's.
//
//   createPinned(family 4|6, datagram bool, mark (-1: none), device (string | undefined)) → fd ≥ 0, or
//     -(stage << 16 | errno): stage 1 socket(2), 2 SO_MARK, 3 SO_BINDTODEVICE (the fd is closed again).
//     socket(7): SO_MARK needs CAP_NET_ADMIN; SO_BINDTODEVICE takes the interface name (IFNAMSIZ).
//   takeError(fd) → SO_ERROR (pending error, read and cleared: ≥ 0), or -errno when getsockopt fails.
//   lingerZero(fd) → 0 after SO_LINGER {on, 0} (close(2) then sends a RST), or -errno.
//   strerror(errno) → the C library's text for an errno (error paths only).

#include <napi.h>

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace {

constexpr int kStageSocket = 1;
constexpr int kStageMark = 2;
constexpr int kStageDevice = 3;

int Failed(int stage, int err) { return -((stage << 16) | (err & 0xffff)); }

bool IntArg(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

Napi::Value TypeError(const Napi::CallbackInfo& info, const char* message) {
  Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

Napi::Value CreatePinned(const Napi::CallbackInfo& info) {
  int64_t family = 0;
  int64_t mark = -1;
  if (!IntArg(info, 0, &family) || (family != 4 && family != 6) || info.Length() < 4 ||
      !info[1].IsBoolean() || !IntArg(info, 2, &mark) || mark < -1 || mark > 0xffffffffLL ||
      !(info[3].IsUndefined() || info[3].IsString()))
    return TypeError(info, "createPinned(family 4|6, datagram, mark -1..2^32-1, device?)");
  char device[IFNAMSIZ] = {0};
  size_t deviceLength = 0;
  if (info[3].IsString()) {
    // Names are at most IFNAMSIZ - 1 bytes (linux/if.h); a longer one cannot exist: ENODEV like the kernel.
    size_t copied = 0;
    napi_status s = napi_get_value_string_utf8(info.Env(), info[3], device, sizeof device, &copied);
    if (s != napi_ok) return TypeError(info, "createPinned: device must be a string");
    size_t full = 0;
    napi_get_value_string_utf8(info.Env(), info[3], nullptr, 0, &full);
    if (full >= IFNAMSIZ) return Napi::Number::New(info.Env(), Failed(kStageDevice, ENODEV));
    deviceLength = copied;
  }
  const int type = (info[1].As<Napi::Boolean>().Value() ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  const int fd = socket(family == 4 ? AF_INET : AF_INET6, type, 0);
  if (fd < 0) return Napi::Number::New(info.Env(), Failed(kStageSocket, errno));
  if (mark >= 0) {
    const uint32_t value = static_cast<uint32_t>(mark);
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &value, sizeof value) != 0) {
      const int err = errno;
      close(fd);
      return Napi::Number::New(info.Env(), Failed(kStageMark, err));
    }
  }
  if (info[3].IsString()) {
    // The length includes the terminating NUL, as ip(8) and socket(7)'s example pass it.
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, static_cast<socklen_t>(deviceLength + 1)) != 0) {
      const int err = errno;
      close(fd);
      return Napi::Number::New(info.Env(), Failed(kStageDevice, err));
    }
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value TakeError(const Napi::CallbackInfo& info) {
  int64_t fd = -1;
  if (!IntArg(info, 0, &fd) || fd < 0 || fd > INT32_MAX) return TypeError(info, "takeError(fd)");
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ERROR, &value, &len) != 0)
    return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), value);
}

Napi::Value LingerZero(const Napi::CallbackInfo& info) {
  int64_t fd = -1;
  if (!IntArg(info, 0, &fd) || fd < 0 || fd > INT32_MAX) return TypeError(info, "lingerZero(fd)");
  const struct linger l = {1, 0};
  if (setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
    return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value StrError(const Napi::CallbackInfo& info) {
  int64_t err = 0;
  if (!IntArg(info, 0, &err) || err < 0 || err > INT32_MAX) return TypeError(info, "strerror(errno)");
  return Napi::String::New(info.Env(), strerror(static_cast<int>(err)));
}

}  // namespace

Napi::Object DefineSocketOps(Napi::Env env) {
  Napi::Object ops = Napi::Object::New(env);
  ops.Set("createPinned", Napi::Function::New<CreatePinned>(env, "createPinned"));
  ops.Set("takeError", Napi::Function::New<TakeError>(env, "takeError"));
  ops.Set("lingerZero", Napi::Function::New<LingerZero>(env, "lingerZero"));
  ops.Set("strerror", Napi::Function::New<StrError>(env, "strerror"));
  return ops;
}
