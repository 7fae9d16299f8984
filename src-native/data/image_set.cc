// ImageSet: the JS handle on an ImageCache. ImageSet.build() decodes off the main thread.
#include "data/image_set.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/async.h"
#include "common/classes.h"
#include "common/errors.h"
#include "data/disk_cache.h"

namespace thtl::data {
namespace {

// Marks objects made by ImageSet's constructor, so cacheOf can tell them from others.
const napi_type_tag kImageSetTag = {0x7468746c2d696d67ULL, 0x2d7365742d763031ULL};

// Only ImageSet.build() may construct: it passes this token's address as an External.
struct ConstructToken {};
ConstructToken gConstructToken;

// The ImageSet constructor of each Node environment (main thread and workers).
PerEnvConstructor imageSetCtor;

Napi::Object newImageSet(Napi::Env env, std::shared_ptr<ImageCache> cache) {
  Napi::Function ctor = imageSetCtor.get(env, "ImageSet");
  Napi::Object obj = ctor.New({Napi::External<ConstructToken>::New(env, &gConstructToken)});
  ImageSet::Unwrap(obj)->cache = std::move(cache);
  return obj;
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t lo, int64_t hi) {
  const double v = numberArg(info, i, what);
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer in " +
                                                std::to_string(lo) + ".." + std::to_string(hi) +
                                                ", got " + info[i].ToString().Utf8Value());
  return static_cast<int64_t>(v);
}

// ---------------------------------------------------------------------------------------
// ImageSet.build

// Main-thread state of the progress callback.
struct ProgressState {
  size_t delivered = 0;
  std::string error;  // first exception thrown by onProgress
};

// Worker-side throttle: at most one call per 1% of the files or per 100 ms.
struct ProgressThrottle {
  std::mutex mutex;
  size_t lastQueued = 0;
  std::chrono::steady_clock::time_point lastTime{};
};

void deliverProgress(Napi::Env env, Napi::Function fn, ProgressState& state, size_t done,
                     size_t total) {
  if (done <= state.delivered || !state.error.empty()) return;
  state.delivered = done;
  try {
    fn.Call({Napi::Number::New(env, static_cast<double>(done)),
             Napi::Number::New(env, static_cast<double>(total))});
  } catch (const Napi::Error& e) {
    state.error = e.Message();
  }
}

class BuildWorker : public Napi::AsyncWorker {
 public:
  BuildWorker(Napi::Env env, Napi::Promise::Deferred deferred, std::vector<std::string> files,
              int64_t size, int threads, bool skipBad, std::string cacheDir,
              Napi::Function onProgress, std::unique_ptr<AbortWatch> abort)
      : Napi::AsyncWorker(env, "thtl.ImageSet.build"),
        deferred_(deferred),
        files_(std::move(files)),
        size_(size),
        threads_(threads),
        skipBad_(skipBad),
        cacheDir_(std::move(cacheDir)),
        abort_(std::move(abort)) {
    if (!onProgress.IsEmpty()) {
      progressFn_ = Napi::Persistent(onProgress);
      state_ = std::make_shared<ProgressState>();
      tsfn_ = Napi::ThreadSafeFunction::New(env, onProgress, "thtl.ImageSet.build.progress", 0, 1);
      hasTsfn_ = true;
    }
  }

 protected:
  void Execute() override {
    std::function<void(size_t, size_t)> progress;
    const AbortFlag flag = abort_->flag();
    if (flag.aborted()) {
      aborted_ = true;
      SetError("aborted");
      if (hasTsfn_) tsfn_.Release();
      return;
    }
    if (hasTsfn_) {
      auto throttle = std::make_shared<ProgressThrottle>();
      const size_t step = std::max<size_t>(1, files_.size() / 100);
      progress = [this, throttle, step](size_t done, size_t total) {
        std::lock_guard<std::mutex> lock(throttle->mutex);
        const auto now = std::chrono::steady_clock::now();
        const bool due = done == total || done >= throttle->lastQueued + step ||
                         now - throttle->lastTime >= std::chrono::milliseconds(100);
        if (!due || done <= throttle->lastQueued) return;
        throttle->lastQueued = done;
        throttle->lastTime = now;
        auto state = state_;
        tsfn_.NonBlockingCall([state, done, total](Napi::Env env, Napi::Function fn) {
          if (env == nullptr || fn.IsEmpty()) return;
          deliverProgress(env, fn, *state, done, total);
        });
      };
    }
    // With a signal, the decode workers check it after each image.
    std::function<void(size_t, size_t)> report = progress;
    if (abort_->watching())
      report = [progress, flag](size_t done, size_t total) {
        flag.throwIfAborted();
        if (progress) progress(done, total);
      };
    try {
      cache_ = cacheDir_.empty()
                   ? buildCache(files_, size_, threads_, skipBad_, report)
                   : buildDiskCache(files_, size_, threads_, skipBad_, cacheDir_, report);
    } catch (const Aborted&) {
      aborted_ = true;
      SetError("aborted");
    } catch (...) {
      SetError(currentExceptionMessage());
    }
    if (hasTsfn_) tsfn_.Release();
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    abort_->unwatch();
    if (state_) {
      deliverProgress(env, progressFn_.Value(), *state_, files_.size(), files_.size());
      if (!state_->error.empty()) {
        deferred_.Reject(
            Napi::Error::New(env, "ImageSet.build: onProgress threw: " + state_->error).Value());
        return;
      }
    }
    try {
      deferred_.Resolve(newImageSet(env, cache_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override {
    Napi::HandleScope scope(Env());
    abort_->unwatch();
    Napi::Error err = Napi::Error::New(Env(), "ImageSet.build: " + e.Message());
    if (aborted_) markAbortError(err);
    deferred_.Reject(err.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<std::string> files_;
  int64_t size_;
  int threads_;
  bool skipBad_;
  std::string cacheDir_;  // empty: decode into memory
  Napi::FunctionReference progressFn_;
  std::shared_ptr<ProgressState> state_;
  Napi::ThreadSafeFunction tsfn_;
  bool hasTsfn_ = false;
  std::shared_ptr<ImageCache> cache_;
  std::unique_ptr<AbortWatch> abort_;
  bool aborted_ = false;
};

Napi::Value buildImageSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  try {
    if (info.Length() < 1 || !info[0].IsArray())
      throw Napi::TypeError::New(env, "ImageSet.build: files must be an array of strings");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<std::string> files;
    files.reserve(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsString())
        throw Napi::TypeError::New(env, "ImageSet.build: files[" + std::to_string(i) + "] must be a string");
      files.push_back(v.As<Napi::String>().Utf8Value());
    }
    const int64_t size = intArg(info, 1, "ImageSet.build: size", 1, 16384);
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool skipBad = false;
    std::string cacheDir;
    Napi::Function onProgress;
    Napi::Value signal = env.Undefined();
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
      if (!info[2].IsObject()) throw Napi::TypeError::New(env, "ImageSet.build: options must be an object");
      Napi::Object opts = info[2].As<Napi::Object>();
      Napi::Value t = opts.Get("threads");
      if (!t.IsUndefined()) {
        if (!t.IsNumber() || t.As<Napi::Number>().DoubleValue() < 1 ||
            t.As<Napi::Number>().DoubleValue() > 1024)
          throw Napi::TypeError::New(env, "ImageSet.build: options.threads must be a number in 1..1024");
        threads = t.As<Napi::Number>().Int32Value();
      }
      Napi::Value sb = opts.Get("skipBad");
      if (!sb.IsUndefined()) {
        if (!sb.IsBoolean()) throw Napi::TypeError::New(env, "ImageSet.build: options.skipBad must be a boolean");
        skipBad = sb.As<Napi::Boolean>().Value();
      }
      Napi::Value cd = opts.Get("cacheDir");
      if (!cd.IsUndefined() && !cd.IsNull()) {
        if (!cd.IsString() || cd.As<Napi::String>().Utf8Value().empty())
          throw Napi::TypeError::New(env, "ImageSet.build: options.cacheDir must be a non-empty string");
        cacheDir = cd.As<Napi::String>().Utf8Value();
      }
      Napi::Value cb = opts.Get("onProgress");
      if (!cb.IsUndefined()) {
        if (!cb.IsFunction())
          throw Napi::TypeError::New(env, "ImageSet.build: options.onProgress must be a function");
        onProgress = cb.As<Napi::Function>();
      }
      signal = opts.Get("signal");
    }
    auto abort = std::make_unique<AbortWatch>(env, signal, "ImageSet.build");
    auto worker = std::make_unique<BuildWorker>(env, deferred, std::move(files), size, threads,
                                                 skipBad, std::move(cacheDir), onProgress, std::move(abort));
    worker->Queue();
    worker.release();  // owned by the AsyncWorker machinery from here on; deletes itself
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
  } catch (...) {
    deferred.Reject(Napi::Error::New(env, "ImageSet.build: " + currentExceptionMessage()).Value());
  }
  return deferred.Promise();
}

}  // namespace

// -----------------------------------------------------------------------------------------

Napi::Function ImageSet::Define(Napi::Env env) {
  Napi::Function cls = DefineClass(
      env, "ImageSet",
      {
          StaticMethod("build", &buildImageSet),
          InstanceAccessor("count", &ImageSet::Count, nullptr),
          InstanceAccessor("size", &ImageSet::Size, nullptr),
          InstanceMethod("failures", &ImageSet::Failures),
          InstanceMethod("stats", &ImageSet::Stats),
          InstanceMethod("pixels", &ImageSet::Pixels),
          InstanceMethod("batch", &ImageSet::Batch),
      });
  imageSetCtor.set(env, cls);
  return cls;
}

ImageSet::ImageSet(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ImageSet>(info) {
  if (info.Length() < 1 || !info[0].IsExternal() ||
      info[0].As<Napi::External<ConstructToken>>().Data() != &gConstructToken)
    throw Napi::TypeError::New(info.Env(),
                               "ImageSet cannot be constructed directly; use ImageSet.build(files, size, options)");
  info.This().As<Napi::Object>().TypeTag(&kImageSetTag);
}

std::shared_ptr<ImageCache> ImageSet::cacheOf(const Napi::Value& value, const char* what) {
  if (value.IsObject()) {
    Napi::Object obj = value.As<Napi::Object>();
    if (obj.CheckTypeTag(&kImageSetTag)) {
      ImageSet* set = ImageSet::Unwrap(obj);
      if (set != nullptr && set->cache) return set->cache;
    }
  }
  throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an ImageSet");
}

Napi::Value ImageSet::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cache ? static_cast<double>(cache->files.size()) : 0.0);
}

Napi::Value ImageSet::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cache ? static_cast<double>(cache->size) : 0.0);
}

Napi::Value ImageSet::Failures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (!cache) return out;
  uint32_t k = 0;
  for (const DecodeFailure& f : cache->failures) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", Napi::Number::New(env, static_cast<double>(f.index)));
    o.Set("file", Napi::String::New(env, f.file));
    o.Set("reason", Napi::String::New(env, f.reason));
    out.Set(k++, o);
  }
  return out;
}

Napi::Value ImageSet::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("decoded", Napi::Number::New(env, cache ? static_cast<double>(cache->decoded) : 0.0));
  o.Set("reused", Napi::Number::New(env, cache ? static_cast<double>(cache->reused) : 0.0));
  o.Set("failed", Napi::Number::New(env, cache ? static_cast<double>(cache->failures.size()) : 0.0));
  if (cache && !cache->cacheFile.empty())
    o.Set("cacheFile", Napi::String::New(env, cache->cacheFile));
  else
    o.Set("cacheFile", env.Null());
  return o;
}

Napi::Value ImageSet::Pixels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t count = cache ? static_cast<int64_t>(cache->files.size()) : 0;
  if (count == 0) throw Napi::RangeError::New(env, "ImageSet.pixels: the image set is empty");
  const int64_t i = intArg(info, 0, "ImageSet.pixels: index", 0, count - 1);
  const int64_t s = cache->size;
  const size_t n = static_cast<size_t>(3 * s * s);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, n);
  const torch::Tensor px = cache->pixels.contiguous();
  std::memcpy(out.Data(), px.data_ptr<uint8_t>() + i * static_cast<int64_t>(n), n);
  return out;
}

Napi::Value ImageSet::Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(env, "ImageSet.batch: indices must be an array of integers");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<int64_t> indices;
  indices.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsNumber())
      throw Napi::TypeError::New(env, "ImageSet.batch: indices must be an array of integers");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d))
      throw Napi::TypeError::New(env, "ImageSet.batch: indices must be an array of integers");
    indices.push_back(static_cast<int64_t>(d));
  }
  if (info.Length() < 2 || !info[1].IsBoolean())
    throw Napi::TypeError::New(env, "ImageSet.batch: augment must be a boolean");
  const bool augment = info[1].As<Napi::Boolean>().Value();
  const double seedValue = numberArg(info, 2, "ImageSet.batch: seed");
  if (!std::isfinite(seedValue))
    throw Napi::TypeError::New(env, "ImageSet.batch: seed must be a finite number");
  const uint64_t seed = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  auto c = cache;
  return guard(env, "ImageSet.batch", [&]() -> Napi::Value {
    std::mt19937_64 rng(seed);
    const size_t s = c ? static_cast<size_t>(c->size) : 0;
    Napi::Float32Array out = Napi::Float32Array::New(env, indices.size() * 3 * s * s);
    // On this thread, without LibTorch ops: never waits for an epoch on the compute thread.
    if (!c && !indices.empty()) throw UserError("the image set holds no images");
    if (c) fillBatchSerial(*c, indices, augment, rng, out.Data());
    return out;
  });
}

}  // namespace thtl::data
