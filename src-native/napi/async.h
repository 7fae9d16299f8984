// Off-main-thread work that returns a Promise, with optional progress callbacks.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/threads.h"

namespace thtl {

class Args;

// Sends progress (a few numbers) from a worker thread to a JS callback, without blocking
// the worker. One rule for every call that takes an onProgress callback:
// - calls arrive in order; when the operation ends, its last report is delivered (on the
//   JS thread, at once, if still queued) before the promise settles;
// - a callback that throws stops the operation at its next report, and the promise
//   rejects with "<call>: onProgress threw: <message>".
class Progress {
 public:
  Progress() = default;
  Progress(Napi::Env env, const Napi::Value& callback, const char* name);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Queues a call of the callback with `values` as its arguments; throws UserError when an
  // earlier call threw.
  void report(std::vector<double> values);
  // Worker side, when the operation is over: no more reports.
  void release();
  // JS thread, when the operation is over: delivers the last report if it is still
  // queued; returns the message of the first call that threw ("" when none did).
  std::string settle(Napi::Env env);

  struct State;  // shared with the queued calls

 private:
  bool active_ = false;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference callback_;
  std::shared_ptr<State> state_;
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
  // `signal`: the call's options.signal; a TypeError names the call of `args`.
  AbortWatch(const Args& args, const Napi::Value& signal);
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

struct TaskOptions {
  Napi::Value onProgress;                // a function, or empty for none
  std::shared_ptr<AbortWatch> abort;     // checked before the work starts; unwatched at the end
  std::function<void()> settled;         // JS thread, when the task has ended, before the promise settles
  bool onComputeThread = true;           // false: a libuv pool thread
};

class AsyncTask : public Napi::AsyncWorker {
 public:
  using Work = std::function<void(Progress&)>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  using Options = TaskOptions;

  static Napi::Promise run(Napi::Env env, std::string what, Work work, Done done, Options options = {});

 private:
  AsyncTask(Napi::Env env, std::string what, Work work, Done done, Options options);
  void runWork();
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;
  void finish();

  std::string what_;
  Work work_;
  Done done_;
  Options options_;
  std::future<void> pending_;
  bool aborted_ = false;
  bool corrupt_ = false;  // a CorruptFile: rejects with code ERR_THTL_CORRUPT_FILE
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Progress> progress_;
};

}  // namespace thtl
