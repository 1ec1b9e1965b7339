// Calls from native callbacks (libuv, thread-safe functions) into JS that are safe at any time, environment
// teardown included.
//
// Why not node-addon-api here: it turns every failed napi call into Error::ThrowAsJavaScriptException, and
// once Node has stopped running JS (node::Environment::RunCleanup → CleanupHandles spins the loop with JS
// disallowed; a worker being terminated) napi_make_callback / napi_call_function return
// napi_pending_exception, the follow-up napi_throw fails the same way, and node-addon-api aborts the process:
// "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw" (issue 10, item 6). So every call from a callback
// goes through the plain C API here and says what happened instead of throwing.
#pragma once

#include <node_api.h>

namespace ztun {

enum class JsCall {
  kOk,         // the function ran and returned
  kThrew,      // the function threw: the exception is pending in env
  kNoJs,       // the environment runs no JS any more (teardown, terminating worker): nothing ran
};

// What a failed napi call meant: a JS exception is pending (the function threw), or JS cannot run at all.
// (napi_is_exception_pending only reads env state, it is safe during teardown.)
inline JsCall Classify(napi_env env, napi_status status) {
  if (status == napi_ok) return JsCall::kOk;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return JsCall::kThrew;
  return JsCall::kNoJs;
}

// fn.apply(recv, argv) as a top-level callback (microtasks and process.nextTick run after it, as for any
// I/O callback); nested inside a JS call it is a plain call. recv and fn are references; argv values must
// live in the caller's handle scope.
inline JsCall MakeCallback(napi_env env, napi_ref recvRef, napi_ref fnRef, size_t argc, const napi_value* argv) {
  napi_value recv = nullptr;
  napi_value fn = nullptr;
  if (napi_get_reference_value(env, recvRef, &recv) != napi_ok || recv == nullptr) return JsCall::kNoJs;
  if (napi_get_reference_value(env, fnRef, &fn) != napi_ok || fn == nullptr) return JsCall::kNoJs;
  return Classify(env, napi_make_callback(env, nullptr, recv, fn, argc, argv, nullptr));
}

// A thrown exception from a loop callback has no JS caller to go to: hand it to 'uncaughtException', as Node
// does for its own callbacks.
inline void ReportUncaught(napi_env env) {
  napi_value error = nullptr;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok && error != nullptr) napi_fatal_exception(env, error);
}

// A handle scope that never throws (Napi::HandleScope would on failure).
class RawHandleScope {
 public:
  explicit RawHandleScope(napi_env env) : env_(env) {
    if (napi_open_handle_scope(env, &scope_) != napi_ok) scope_ = nullptr;
  }
  ~RawHandleScope() {
    if (scope_ != nullptr) napi_close_handle_scope(env_, scope_);
  }
  RawHandleScope(const RawHandleScope&) = delete;
  RawHandleScope& operator=(const RawHandleScope&) = delete;

 private:
  napi_env env_;
  napi_handle_scope scope_ = nullptr;
};

}  // namespace ztun
