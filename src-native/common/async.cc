#include "common/async.h"

namespace thtl {

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
                     const Napi::Value& onProgress)
    : Napi::AsyncWorker(env, what.c_str()),
      what_(std::move(what)),
      work_(std::move(work)),
      done_(std::move(done)),
      deferred_(Napi::Promise::Deferred::New(env)),
      progress_(std::make_unique<Progress>(env, onProgress, what_.c_str())) {}

Napi::Promise AsyncTask::run(Napi::Env env, std::string what, Work work, Done done,
                             const Napi::Value& onProgress) {
  auto* task = new AsyncTask(env, std::move(what), std::move(work), std::move(done), onProgress);
  Napi::Promise promise = task->deferred_.Promise();
  task->Queue();  // libuv owns the worker from here and deletes it after OnOK/OnError
  return promise;
}

void AsyncTask::Execute() {
  try {
    applyTorchThreads();
    work_(*progress_);
  } catch (...) {
    SetError(what_ + ": " + currentExceptionMessage());
  }
  progress_->release();
}

void AsyncTask::OnOK() {
  Napi::HandleScope scope(Env());
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
  deferred_.Reject(e.Value());
}

}  // namespace thtl
