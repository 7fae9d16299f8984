#include "common/async.h"

#include "common/cpu_allocator.h"

#include <chrono>
#include <condition_variable>
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
//   So synchronous calls that touch tensors also run here (runOnComputeThread), and
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

  // Runs `fn` on the compute thread and returns when it is done, rethrowing its exception.
  void run(std::function<void()> fn) {
    if (std::this_thread::get_id() == id_) {  // already here (a nested call): run inline
      fn();
      return;
    }
    submit(std::move(fn)).get();
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
    id_ = thread_.get_id();
    thread_.detach();
  }

  void loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        auto ready = [this] { return !queue_.empty(); };
        // Idle for a while (a run has ended): hand the CPU allocator's cached blocks back.
        if (!wake_.wait_for(lock, kIdleRelease, ready)) {
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

  static constexpr std::chrono::seconds kIdleRelease{3};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> queue_;
  std::thread thread_;
  std::thread::id id_;
};

}  // namespace

void runOnComputeThread(std::function<void()> fn) {
  ComputeThread::get().run([&] {
    applyTorchThreads();
    fn();
  });
}

Progress::Progress(Napi::Env env, const Napi::Value& callback, const char* name) {
  if (!callback.IsFunction()) return;
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback.As<Napi::Function>(), name, 0, 1);
  active_ = true;
}

Progress::~Progress() { release(); }

void Progress::release() {
  if (active_) tsfn_.Release();
  active_ = false;
}

void Progress::report(std::vector<double> values) {
  if (!active_) return;
  auto* payload = new std::vector<double>(std::move(values));  // owned by the JS-side call
  auto status = tsfn_.NonBlockingCall(payload, [](Napi::Env env, Napi::Function fn,
                                                  std::vector<double>* data) {
    std::unique_ptr<std::vector<double>> owned(data);
    if (env == nullptr || fn.IsEmpty()) return;
    std::vector<napi_value> args;
    for (double v : *owned) args.push_back(Napi::Number::New(env, v));
    try {
      fn.Call(args);
    } catch (const Napi::Error& e) {
      // A throwing progress callback must not kill training; report it once.
      fprintf(stderr, "thtl-native: progress callback threw: %s\n", e.Message().c_str());
    }
  });
  if (status != napi_ok) delete payload;
}

AsyncTask::AsyncTask(Napi::Env env, std::string what, Work work, Done done,
                     const Napi::Value& onProgress, Settled settled)
    : Napi::AsyncWorker(env, what.c_str()),
      what_(std::move(what)),
      work_(std::move(work)),
      done_(std::move(done)),
      settled_(std::move(settled)),
      deferred_(Napi::Promise::Deferred::New(env)),
      progress_(std::make_unique<Progress>(env, onProgress, what_.c_str())) {}

Napi::Promise AsyncTask::run(Napi::Env env, std::string what, Work work, Done done,
                             const Napi::Value& onProgress, Settled settled) {
  auto* task = new AsyncTask(env, std::move(what), std::move(work), std::move(done), onProgress,
                             std::move(settled));
  Napi::Promise promise = task->deferred_.Promise();
  // Queued on the compute thread now, on the JS thread, so tasks run in the order they
  // were called; a libuv thread only waits for the result. The task object lives until
  // OnOK/OnError, which come after that wait.
  task->pending_ = ComputeThread::get().submit([task] {
    applyTorchThreads();
    task->work_(*task->progress_);
  });
  task->Queue();  // libuv owns the worker from here and deletes it after OnOK/OnError
  return promise;
}

void AsyncTask::Execute() {
  try {
    pending_.get();
  } catch (const Aborted&) {
    aborted_ = true;
    SetError(what_ + ": aborted");
  } catch (...) {
    SetError(what_ + ": " + currentExceptionMessage());
  }
  progress_->release();
}

void AsyncTask::OnOK() {
  Napi::HandleScope scope(Env());
  if (settled_) settled_();
  try {
    deferred_.Resolve(done_(Env()));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (...) {
    deferred_.Reject(Napi::Error::New(Env(), what_ + ": " + currentExceptionMessage()).Value());
  }
}

void AsyncTask::OnError(const Napi::Error& e) {
  Napi::HandleScope scope(Env());
  if (settled_) settled_();
  if (aborted_) markAbortError(e);
  deferred_.Reject(e.Value());
}

void markAbortError(const Napi::Error& e) {
  e.Set("name", "AbortError");
  e.Set("code", "ABORT_ERR");
}

AbortWatch::AbortWatch(Napi::Env env, const Napi::Value& signal, const std::string& what) {
  if (signal.IsUndefined() || signal.IsNull()) return;
  Napi::Value add = signal.IsObject() ? signal.As<Napi::Object>().Get("addEventListener") : Napi::Value();
  if (!signal.IsObject() || !add.IsFunction() || !signal.As<Napi::Object>().Get("aborted").IsBoolean())
    throw Napi::TypeError::New(env, what + ": options.signal must be an AbortSignal");
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
