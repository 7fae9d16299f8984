#include "napi/async.h"

#include "common/cpu_allocator.h"
#include "napi/args.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace thtl {
namespace {

// Every task's tensor work runs on this one long-lived thread, for two reasons measured
// against the same training step in Python:
// - glibc gives each thread that allocates its own malloc arena, and libuv runs
//   consecutive tasks on any of its pool threads: each arena then kept a step's worth of
//   freed tensor memory (peak RSS 2-3x PyTorch's), and memory handed back and faulted in
//   again every step cost time (efficientnet_v2_s on 2 threads: 12.1 s per step before,
//   4.5 s on one thread). One thread means one arena that reuses its memory, as a Python
//   training loop does on its main thread.
// - libgomp gives every thread that opens an OpenMP parallel region (any LibTorch op on a
//   large enough tensor) a thread team of its own, kept for the thread's life. Once the
//   process holds more OpenMP threads than cores, libgomp cuts its spin-wait to almost
//   nothing, so the intra-op workers sleep on a futex between the thousands of parallel
//   regions of a step and each region pays for waking them (densenet169 on 2 threads:
//   1.3x PyTorch's step time while one zero-fill ran on a libuv thread, at par without).
//   So every call that touches tensors runs here (readWeights and writeSafetensors too), and
//   code on other threads (image decoding) only writes raw memory.
// Tasks run one after another; LibTorch's intra-op threads still parallelise each. The
// libuv thread that queued a task waits for it, so completion, errors and promise
// settling stay Napi::AsyncWorker's.
class ComputeThread {
 public:
  static ComputeThread& get() {
    static ComputeThread* thread = new ComputeThread();  // never destroyed: no join at exit
    return *thread;
  }

  // Queues `fn` behind the tasks already queued; the future holds its exception.
  std::future<void> submit(std::function<void()> fn) {
    std::packaged_task<void()> task(std::move(fn));
    std::future<void> done = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
    }
    wake_.notify_one();
    return done;
  }

 private:
  ComputeThread() : thread_([this] { loop(); }) {
    thread_.detach();
  }

  void loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        auto ready = [this] { return !queue_.empty(); };
        // Idle for a while (a run has ended): hand the CPU allocator's cached blocks back.
        if (!wake_.wait_for(lock, idleRelease(), ready)) {
          lock.unlock();
          releaseCpuCache();
          lock.lock();
          wake_.wait(lock, ready);
        }
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();  // an exception is stored in the task's future
    }
  }

  // 3 s, or THTL_CPU_RELEASE_S (whole seconds, 1..3600): a benchmark that interleaves the
  // steps of several processes keeps the native side's memory over the others' steps with
  // it, as jemalloc (10 s decay) keeps a PyTorch side's.
  static std::chrono::seconds idleRelease() {
    static const std::chrono::seconds s = [] {
      const char* env = std::getenv("THTL_CPU_RELEASE_S");
      const long v = env ? std::strtol(env, nullptr, 10) : 0;
      return std::chrono::seconds(v >= 1 && v <= 3600 ? v : 3);
    }();
    return s;
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> queue_;
  std::thread thread_;
};

}  // namespace

struct Progress::State {
  std::mutex mutex;
  uint64_t queued = 0;          // reports made
  uint64_t delivered = 0;       // the latest report the callback has seen (JS thread)
  std::vector<double> latest;   // the values of report `queued`
  std::string error;            // set (JS thread) when a call threw
  std::atomic<bool> failed{false};
};

namespace {

struct Report {
  uint64_t seq;
  std::vector<double> values;
};

// Calls `fn` with report `seq` unless a later one was delivered already or a call threw.
void deliver(Napi::Env env, Napi::Function fn, Progress::State& state, uint64_t seq,
             const std::vector<double>& values) {
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    if (seq <= state.delivered || state.failed.load()) return;
    state.delivered = seq;
  }
  std::vector<napi_value> args;
  for (double v : values) args.push_back(Napi::Number::New(env, v));
  try {
    fn.Call(args);
  } catch (const Napi::Error& e) {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.error = e.Message();
    state.failed = true;
  }
}

}  // namespace

Progress::Progress(Napi::Env env, const Napi::Value& callback, const char* name) {
  if (callback.IsEmpty() || !callback.IsFunction()) return;
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback.As<Napi::Function>(), name, 0, 1);
  callback_ = Napi::Persistent(callback.As<Napi::Function>());
  state_ = std::make_shared<State>();
  active_ = true;
}

Progress::~Progress() { release(); }

void Progress::release() {
  if (active_) tsfn_.Release();
  active_ = false;
}

void Progress::report(std::vector<double> values) {
  if (!state_) return;
  if (state_->failed.load()) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    throw UserError("onProgress threw: " + state_->error);
  }
  if (!active_) return;
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    seq = ++state_->queued;
    state_->latest = values;
  }
  auto* payload = new Report{seq, std::move(values)};  // owned by the JS-side call
  auto state = state_;
  auto status = tsfn_.NonBlockingCall(payload, [state](Napi::Env env, Napi::Function fn, Report* data) {
    std::unique_ptr<Report> owned(data);
    if (env == nullptr || fn.IsEmpty()) return;
    deliver(env, fn, *state, owned->seq, owned->values);
  });
  if (status != napi_ok) delete payload;
}

std::string Progress::settle(Napi::Env env) {
  if (!state_) return "";
  uint64_t seq;
  std::vector<double> latest;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    seq = state_->queued;
    latest = state_->latest;
  }
  if (seq > 0) deliver(env, callback_.Value(), *state_, seq, latest);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->error;
}

AsyncTask::AsyncTask(Napi::Env env, std::string what, Work work, Done done, Options options)
    : Napi::AsyncWorker(env, what.c_str()),
      what_(std::move(what)),
      work_(std::move(work)),
      done_(std::move(done)),
      options_(std::move(options)),
      deferred_(Napi::Promise::Deferred::New(env)),
      progress_(std::make_unique<Progress>(env, options_.onProgress, what_.c_str())) {}

Napi::Promise AsyncTask::run(Napi::Env env, std::string what, Work work, Done done, Options options) {
  auto* task = new AsyncTask(env, std::move(what), std::move(work), std::move(done), std::move(options));
  Napi::Promise promise = task->deferred_.Promise();
  // Compute-thread work is queued there now, on the JS thread, so tasks run in the order
  // they were called; a libuv thread only waits for the result. The task object lives
  // until OnOK/OnError, which come after that wait.
  if (task->options_.onComputeThread)
    task->pending_ = ComputeThread::get().submit([task] {
      applyTorchThreads();
      task->runWork();
    });
  task->Queue();  // libuv owns the worker from here and deletes it after OnOK/OnError
  return promise;
}

void AsyncTask::runWork() {
  if (options_.abort) options_.abort->flag().throwIfAborted();
  work_(*progress_);
}

void AsyncTask::Execute() {
  try {
    if (options_.onComputeThread)
      pending_.get();
    else
      runWork();
  } catch (const Aborted&) {
    aborted_ = true;
    SetError(what_ + ": aborted");
  } catch (const CorruptFile& e) {
    corrupt_ = true;
    SetError(what_ + ": " + e.what());
  } catch (...) {
    SetError(what_ + ": " + currentExceptionMessage());
  }
  progress_->release();
}

void AsyncTask::finish() {
  if (options_.abort) options_.abort->unwatch();
  if (options_.settled) options_.settled();
}

void AsyncTask::OnOK() {
  Napi::HandleScope scope(Env());
  finish();
  const std::string thrown = progress_->settle(Env());
  try {
    if (!thrown.empty()) throw UserError("onProgress threw: " + thrown);
    deferred_.Resolve(done_(Env()));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (...) {
    deferred_.Reject(Napi::Error::New(Env(), what_ + ": " + currentExceptionMessage()).Value());
  }
}

void AsyncTask::OnError(const Napi::Error& e) {
  Napi::HandleScope scope(Env());
  finish();
  progress_->settle(Env());
  if (aborted_) markAbortError(e);
  if (corrupt_) e.Set("code", "ERR_THTL_CORRUPT_FILE");
  deferred_.Reject(e.Value());
}

void markAbortError(const Napi::Error& e) {
  e.Set("name", "AbortError");
  e.Set("code", "ABORT_ERR");
}

AbortWatch::AbortWatch(const Args& args, const Napi::Value& signal) {
  if (signal.IsEmpty() || signal.IsUndefined() || signal.IsNull()) return;
  Napi::Env env = args.env();
  Napi::Value add = signal.IsObject() ? signal.As<Napi::Object>().Get("addEventListener") : Napi::Value();
  if (!signal.IsObject() || !add.IsFunction() || !signal.As<Napi::Object>().Get("aborted").IsBoolean())
    throw args.typeError("options.signal", "an AbortSignal");
  Napi::Object sig = signal.As<Napi::Object>();
  watching_ = true;
  if (sig.Get("aborted").As<Napi::Boolean>().Value()) {
    flag_.flag_->store(true);
    return;
  }
  auto flag = flag_.flag_;
  Napi::Function listener = Napi::Function::New(env, [flag](const Napi::CallbackInfo&) { flag->store(true); });
  add.As<Napi::Function>().Call(sig, {Napi::String::New(env, "abort"), listener});
  signal_ = Napi::Persistent(sig);
  listener_ = Napi::Persistent(listener);
}

void AbortWatch::unwatch() {
  if (signal_.IsEmpty()) return;
  Napi::Env env = signal_.Env();
  Napi::HandleScope scope(env);
  Napi::Object sig = signal_.Value();
  Napi::Value remove = sig.Get("removeEventListener");
  if (remove.IsFunction()) remove.As<Napi::Function>().Call(sig, {Napi::String::New(env, "abort"), listener_.Value()});
  signal_.Reset();
  listener_.Reset();
}

}  // namespace thtl
