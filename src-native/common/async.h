// Off-main-thread work that returns a Promise, with optional progress callbacks.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/errors.h"
#include "common/threads.h"

namespace thtl {

// Sends progress (a few numbers) from a worker thread to a JS callback, non-blocking.
class Progress {
 public:
  Progress() = default;
  Progress(Napi::Env env, const Napi::Value& callback, const char* name);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Queue a call of the JS callback with `values` as its arguments.
  void report(std::vector<double> values);
  void release();

 private:
  bool active_ = false;
  Napi::ThreadSafeFunction tsfn_;
};

// What native work sees of an AbortSignal: a flag set on the JS thread when it aborts.
class AbortFlag {
 public:
  bool aborted() const { return flag_->load(std::memory_order_relaxed); }
  void throwIfAborted() const {
    if (aborted()) throw Aborted();
  }

 private:
  friend class AbortWatch;
  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

// Listens to `signal` (options.signal: undefined/null for none; anything else that is not
// an AbortSignal is a TypeError naming `what`) until unwatch(), on the JS thread.
class AbortWatch {
 public:
  AbortWatch(Napi::Env env, const Napi::Value& signal, const std::string& what);
  AbortFlag flag() const { return flag_; }
  bool watching() const { return watching_; }  // a signal was given
  void unwatch();

 private:
  AbortFlag flag_;
  bool watching_ = false;
  Napi::ObjectReference signal_;
  Napi::FunctionReference listener_;
};

// Makes `e` what Node's own APIs reject with on an abort: name AbortError, code ABORT_ERR.
void markAbortError(const Napi::Error& e);

// Runs `fn` on the addon's compute thread and waits for it (inline when called there),
// rethrowing its exception. Every call that does tensor math goes through the compute
// thread, the synchronous ones too: a thread that runs a LibTorch op big enough to
// parallelise gets an OpenMP thread team of its own, and with more OpenMP threads in the
// process than cores, libgomp stops spin-waiting and every parallel region pays for
// sleeping and waking its workers (see async.cc). Only plain C++ values may cross: Napi
// values are made on the JS thread, before or after.
void runOnComputeThread(std::function<void()> fn);

template <typename Fn>
auto onComputeThread(Fn&& fn) -> decltype(fn()) {
  using R = decltype(fn());
  if constexpr (std::is_void_v<R>) {
    runOnComputeThread(std::function<void()>(std::forward<Fn>(fn)));
  } else {
    std::optional<R> result;
    runOnComputeThread([&] { result.emplace(fn()); });
    return std::move(*result);
  }
}

// Runs `work` on the addon's compute thread (one long-lived thread, see async.cc) with
// LibTorch's thread count applied, then resolves the promise with `done(env)`; a C++
// exception rejects it with an Error "<what>: <message>", Aborted with an Error named
// AbortError (code ABORT_ERR, as Node's own APIs). Tasks run in the order run() was
// called. `settled` (optional) runs on the JS thread when the task has ended, before the
// promise settles, either way.
class AsyncTask : public Napi::AsyncWorker {
 public:
  using Work = std::function<void(Progress&)>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Settled = std::function<void()>;

  static Napi::Promise run(Napi::Env env, std::string what, Work work, Done done,
                           const Napi::Value& onProgress = Napi::Value(), Settled settled = {});

 private:
  AsyncTask(Napi::Env env, std::string what, Work work, Done done, const Napi::Value& onProgress,
            Settled settled);
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

  std::string what_;
  Work work_;
  Done done_;
  Settled settled_;
  std::future<void> pending_;
  bool aborted_ = false;
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Progress> progress_;
};

}  // namespace thtl
