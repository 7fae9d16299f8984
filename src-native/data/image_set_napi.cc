// ImageSet: the JS handle on an ImageCache. ImageSet.build() decodes off the main thread.
#include "data/image_set_napi.h"

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "napi/async.h"
#include "napi/classes.h"
#include "napi/guard.h"
#include "napi/args.h"
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

// Worker-side throttle of ImageSet.build's progress: at most one report per 1% of the
// files or per 100 ms, and always the last.
class ProgressThrottle {
 public:
  ProgressThrottle(Progress& progress, size_t total)
      : progress_(progress), step_(std::max<size_t>(1, total / 100)) {}

  void operator()(size_t done, size_t total) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    const bool due = done == total || done >= lastQueued_ + step_ ||
                     now - lastTime_ >= std::chrono::milliseconds(100);
    if (!due || done <= lastQueued_) return;
    lastQueued_ = done;
    lastTime_ = now;
    progress_.report({static_cast<double>(done), static_cast<double>(total)});
  }

 private:
  Progress& progress_;
  const size_t step_;
  std::mutex mutex_;
  size_t lastQueued_ = 0;
  std::chrono::steady_clock::time_point lastTime_{};
};

// ImageSet.build(files, size, {threads, skipBad, cacheDir, onProgress(done, total), signal})
//   -> Promise<ImageSet>; decodes on a libuv pool thread and its own decode workers.
Napi::Value buildImageSet(const Napi::CallbackInfo& info) {
  const Args a(info, "ImageSet.build");
  auto files = std::make_shared<std::vector<std::string>>(a.strings(0, "files"));
  const int64_t size = a.integer(1, "size", 1, 16384);
  const Options o = a.options(2);
  const int threads = static_cast<int>(
      o.integer("threads", static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency())), 1, 1024));
  const bool skipBad = o.boolean("skipBad", false);
  const std::string cacheDir = o.string("cacheDir", "");  // "": decode into memory
  if (o.has("cacheDir") && cacheDir.empty()) throw a.typeError("options.cacheDir", "a non-empty string");
  auto abort = std::make_shared<AbortWatch>(a, o.get("signal"));
  auto cache = std::make_shared<std::shared_ptr<ImageCache>>();
  const AbortFlag flag = abort->flag();
  const bool watching = abort->watching();
  return AsyncTask::run(
      a.env(), a.call(),
      [=](Progress& progress) {
        ProgressThrottle throttle(progress, files->size());
        // With a signal, the decode workers check it after each image.
        auto report = [&throttle, flag, watching](size_t done, size_t total) {
          if (watching) flag.throwIfAborted();
          throttle(done, total);
        };
        *cache = cacheDir.empty() ? buildCache(*files, size, threads, skipBad, report)
                                  : buildDiskCache(*files, size, threads, skipBad, cacheDir, report);
      },
      [cache](Napi::Env env) -> Napi::Value { return newImageSet(env, *cache); },
      {o.function("onProgress"), abort, {}, /*onComputeThread=*/false});
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

std::shared_ptr<ImageCache> ImageSet::cacheOf(const Args& args, size_t i) {
  const Napi::Value value = args[i];
  if (value.IsObject()) {
    Napi::Object obj = value.As<Napi::Object>();
    if (obj.CheckTypeTag(&kImageSetTag)) {
      ImageSet* set = ImageSet::Unwrap(obj);
      if (set != nullptr && set->cache) return set->cache;
    }
  }
  throw args.typeError("images", "an ImageSet");
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
  const int64_t i = Args(info, "ImageSet.pixels").integer(0, "index", 0, count - 1);
  const int64_t s = cache->size;
  const size_t n = static_cast<size_t>(3 * s * s);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, n);
  const torch::Tensor px = cache->pixels.contiguous();
  std::memcpy(out.Data(), px.data_ptr<uint8_t>() + i * static_cast<int64_t>(n), n);
  return out;
}

Napi::Value ImageSet::Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Args a(info, "ImageSet.batch");
  const std::vector<int64_t> indices = a.integers(0, "indices");
  const bool augment = a.boolean(1, "augment");
  const auto seed = static_cast<uint64_t>(a.integer(2, "seed", 0, kMaxSafeInteger));
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
