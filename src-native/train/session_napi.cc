// JavaScript face of train::Session. Every call that computes runs on a worker thread.
#include <napi.h>

#include "napi/async.h"
#include "napi/classes.h"
#include "common/cpu_allocator.h"
#include "napi/guard.h"
#include "napi/args.h"
#include "napi/register.h"
#include "data/image_set_napi.h"
#include "train/session.h"

namespace thtl {
namespace {

using train::Session;
using SessionPtr = std::shared_ptr<Session>;

constexpr int64_t kMaxClasses = int64_t{1} << 20;
constexpr int64_t kMaxBatch = int64_t{1} << 20;

std::vector<int32_t> labelArray(const Args& a, size_t i) {
  const Napi::Value v = a[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw a.typeError("labels", "an Int32Array");
  auto arr = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(arr.Data(), arr.Data() + arr.ElementLength());
}

// LayerCAM options shared by layerCam and layerCamImages: {layers?, classes?, fusion?}.
// classes: a number (every image), number[] or Int32Array (one per image; -1 = predicted).
struct CamArgs {
  std::vector<std::string> layers;  // empty: the model's default camLayers
  std::vector<int64_t> classes;     // empty: predicted for every image
  std::string fusion = "none";
};

CamArgs camArgs(const Args& args, const Options& o, size_t n) {
  CamArgs a;
  a.layers = o.stringsIfGiven("layers").value_or(std::vector<std::string>{});
  a.fusion = o.string("fusion", "none");
  if (!o.has("classes")) return a;
  // Range checks (-1 = predicted, else 0..numClasses-1) are the session's, which knows the classes.
  if (o.get("classes").IsNumber())
    a.classes.assign(n, o.integer("classes", -1, -kMaxSafeInteger, kMaxSafeInteger));
  else
    a.classes = o.integers("classes");
  if (a.classes.size() != n)
    throw args.rangeError("options.classes has " + std::to_string(a.classes.size()) + " entries for " +
                          std::to_string(n) + " images (one per image)");
  return a;
}

Napi::Value camResultObject(Napi::Env env, const cam::CamResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("layers", stringArray(env, r.layers));
  o.Set("maps", float32Array(env, r.maps.data_ptr<float>(), static_cast<size_t>(r.maps.numel())));
  if (r.fused.defined())
    o.Set("fused", float32Array(env, r.fused.data_ptr<float>(), static_cast<size_t>(r.fused.numel())));
  else
    o.Set("fused", env.Null());
  std::vector<int32_t> classes(r.classes.begin(), r.classes.end());
  o.Set("classes", int32Array(env, classes));
  o.Set("probs", float32Array(env, r.probs.data_ptr<float>(), static_cast<size_t>(r.probs.numel())));
  o.Set("n", Napi::Number::New(env, static_cast<double>(r.maps.size(0))));
  o.Set("height", Napi::Number::New(env, static_cast<double>(r.maps.size(2))));
  o.Set("width", Napi::Number::New(env, static_cast<double>(r.maps.size(3))));
  o.Set("numClasses", Napi::Number::New(env, static_cast<double>(r.probs.size(1))));
  return o;
}

// What info() and stateKeys() return, taken after each operation: read without the
// session's lock, so they answer at once while an epoch runs.
struct Facts {
  std::string model, device, frozenBatchNorm, precision;
  int64_t numClasses = 0, inputSize = 0, params = 0, trainableParams = 0;
  double lr = 0;
  bool channelsLast = false, trainChannelsLast = false;
  std::vector<std::string> groups, trainableGroups, camLayers, camLayerChoices;
  std::vector<Session::StateKey> stateKeys;
};

// Shared by a Session's JS object and the tasks it has queued (which may outlive it).
struct Handle : std::enable_shared_from_this<Handle> {
  SessionPtr session;          // reset by dispose(), on the compute thread
  // JS thread only:
  int inFlight = 0;            // queued tasks not yet settled
  std::string running;         // the latest of them
  bool disposed = false;
  // any thread:
  std::mutex factsMutex;
  std::shared_ptr<const Facts> facts;

  // With the session's lock held (or nothing queued): records what info() reports.
  void publish() {
    auto f = std::make_shared<Facts>();
    const Session& s = *session;
    const auto& mi = s.info();
    f->model = mi.name;
    f->device = s.device().str();
    f->frozenBatchNorm = s.frozenBatchNormEval() ? "eval" : "train";
    f->precision = s.precision();
    f->numClasses = s.numClasses();
    f->inputSize = mi.inputSize;
    f->params = s.paramCount(false);
    f->trainableParams = s.paramCount(true);
    f->lr = s.currentLr();
    f->channelsLast = s.channelsLast();
    f->trainChannelsLast = s.trainChannelsLast();
    for (const auto& g : mi.groups) f->groups.push_back(g.name);
    f->trainableGroups = s.trainableGroups();
    f->camLayers = mi.camLayers;
    f->camLayerChoices = s.camLayerNames();
    f->stateKeys = s.stateKeys();
    std::lock_guard<std::mutex> lock(factsMutex);
    facts = std::move(f);
  }

  std::shared_ptr<const Facts> read() {
    std::lock_guard<std::mutex> lock(factsMutex);
    return facts;
  }
};
using HandlePtr = std::shared_ptr<Handle>;

// The Session constructor of each Node environment (main thread and worker_threads).
PerEnvConstructor sessionCtor;

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function fn = DefineClass(
        env, "Session",
        {StaticMethod("create", &SessionWrap::Create),
         InstanceMethod("info", &SessionWrap::Info),
         InstanceMethod("stateKeys", &SessionWrap::StateKeys),
         InstanceMethod("loadWeights", &SessionWrap::LoadWeights),
         InstanceMethod("replaceHead", &SessionWrap::ReplaceHead),
         InstanceMethod("setTrainableGroups", &SessionWrap::SetTrainableGroups),
         InstanceMethod("setFrozenBatchNorm", &SessionWrap::SetFrozenBatchNorm),
         InstanceMethod("configureOptimizer", &SessionWrap::ConfigureOptimizer),
         InstanceMethod("trainEpoch", &SessionWrap::TrainEpoch),
         InstanceMethod("evaluate", &SessionWrap::Evaluate),
         InstanceMethod("features", &SessionWrap::Features),
         InstanceMethod("predict", &SessionWrap::Predict),
         InstanceMethod("layerCam", &SessionWrap::LayerCam),
         InstanceMethod("layerCamImages", &SessionWrap::LayerCamImages),
         InstanceMethod("saveCheckpoint", &SessionWrap::SaveCheckpoint),
         InstanceMethod("loadCheckpoint", &SessionWrap::LoadCheckpoint),
         InstanceMethod("applyLora", &SessionWrap::ApplyLora),
         InstanceMethod("mergeLora", &SessionWrap::MergeLora),
         InstanceMethod("saveWeights", &SessionWrap::SaveWeights),
         InstanceMethod("dispose", &SessionWrap::Dispose)});
    sessionCtor.set(env, fn);
    return fn;
  }

  explicit SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
    if (info.Length() < 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use Session.create(options) to make a Session");
    handle_ = info[0].As<Napi::External<Handle>>().Data()->shared_from_this();
  }

 private:
  // Queues `work(session, progress)` on the compute thread behind every task already
  // called (of any session), with the session's lock held; info() is refreshed after it.
  // The promise resolves with done(env); errors read "Session.<name>: ...".
  // With `abort` (options.signal), an AbortSignal that fired before the task started
  // rejects it with an AbortError; the work checks it between batches.
  template <class Work>
  Napi::Value queue(Napi::Env env, const std::string& name, Work work, AsyncTask::Done done,
                    const Napi::Value& onProgress = Napi::Value(),
                    std::shared_ptr<AbortWatch> abort = nullptr) {
    HandlePtr h = handle_;
    if (h->disposed) throw disposedError(env, name);
    return AsyncTask::run(
        env, "Session." + name,
        [h, work](Progress& progress) {
          std::lock_guard<std::mutex> lock(h->session->mutex);
          Session::OwnRng rng(*h->session);
          struct Publish {
            Handle& h;
            ~Publish() {
              try {
                h.publish();
              } catch (...) {
              }
            }
          } publish{*h};
          work(*h->session, progress);
        },
        std::move(done), {onProgress, std::move(abort), track(name)});
  }

  // Counts a call as pending on this session until it settles (info().busy, idle()).
  std::function<void()> track(const std::string& name) {
    HandlePtr h = handle_;
    h->inFlight++;
    h->running = name;
    return [h] {
      if (--h->inFlight == 0) h->running.clear();
    };
  }

  static Napi::Error disposedError(Napi::Env env, const std::string& what) {
    return Napi::Error::New(env, "Session." + what + ": the session was disposed");
  }

  // For the quick synchronous setters: they never wait for a running task (that would
  // block the event loop for an epoch); with one queued they refuse, naming it.
  Session& idle(Napi::Env env, const std::string& what) {
    if (handle_->disposed) throw disposedError(env, what);
    if (handle_->inFlight > 0)
      throw Napi::Error::New(env, "Session." + what + ": the session is busy with " + handle_->running +
                                      "; await it first");
    return *handle_->session;
  }

  std::shared_ptr<const Facts> facts(Napi::Env env, const char* what) {
    auto f = handle_->read();
    if (handle_->disposed || !f) throw disposedError(env, what);
    return f;
  }

  // Session.create({model, numClasses, weights?, device?, seed?, precision?, channelsLast?, cudnnBenchmark?}) -> Promise<Session>
  static Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Args a(info, "Session.create");
    const Options o = a.options(0);
    const std::string model = o.string("model", "");
    if (model.empty()) throw a.typeError("options.model", "the name of a model");
    const int64_t classes = o.integer("numClasses", 0, 0, kMaxClasses);
    const std::string device = o.string("device", "cpu");
    const std::string weights = o.string("weights", "");
    const auto seed = static_cast<uint64_t>(o.integer("seed", 0, 0, kMaxSafeInteger));
    const std::string precision = o.string("precision", "fp32");
    // absent: the session's default for its training steps (Session::defaultTrainChannelsLast)
    const std::optional<bool> channelsLast =
        o.has("channelsLast") ? std::optional<bool>(o.boolean("channelsLast", false)) : std::nullopt;
    const bool cudnnBenchmark = o.boolean("cudnnBenchmark", true);
    auto handle = std::make_shared<Handle>();
    return AsyncTask::run(
        env, "Session.create",
        [=](Progress&) {
          auto s = std::make_shared<Session>(model, classes, device, seed);
          s->setPrecision(precision);
          s->setCudnnBenchmark(cudnnBenchmark);
          if (!weights.empty()) s->loadWeights(weights);
          if (channelsLast)
            s->setChannelsLast(*channelsLast);
          else
            s->setTrainChannelsLast(s->defaultTrainChannelsLast());
          handle->session = std::move(s);
          handle->publish();
        },
        [=](Napi::Env env) -> Napi::Value {
          return sessionCtor.get(env, "Session").New({Napi::External<Handle>::New(env, handle.get())});
        });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto f = facts(env, "info");
    Napi::Object o = Napi::Object::New(env);
    o.Set("model", f->model);
    o.Set("numClasses", Napi::Number::New(env, static_cast<double>(f->numClasses)));
    o.Set("device", f->device);
    o.Set("inputSize", Napi::Number::New(env, static_cast<double>(f->inputSize)));
    o.Set("params", Napi::Number::New(env, static_cast<double>(f->params)));
    o.Set("trainableParams", Napi::Number::New(env, static_cast<double>(f->trainableParams)));
    o.Set("lr", Napi::Number::New(env, f->lr));
    o.Set("frozenBatchNorm", f->frozenBatchNorm);
    o.Set("precision", f->precision);
    o.Set("channelsLast", Napi::Boolean::New(env, f->channelsLast));
    o.Set("trainChannelsLast", Napi::Boolean::New(env, f->trainChannelsLast));
    o.Set("groups", stringArray(env, f->groups));
    o.Set("trainableGroups", stringArray(env, f->trainableGroups));
    o.Set("camLayers", stringArray(env, f->camLayers));
    o.Set("camLayerChoices", stringArray(env, f->camLayerChoices));
    o.Set("busy", handle_->running.empty() ? env.Null() : Napi::String::New(env, handle_->running));
    return o;
  }

  Napi::Value StateKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto f = facts(env, "stateKeys");
    const auto& keys = f->stateKeys;
    auto out = Napi::Array::New(env, keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", keys[i].name);
      auto shape = Napi::Array::New(env, keys[i].shape.size());
      for (size_t d = 0; d < keys[i].shape.size(); ++d)
        shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(keys[i].shape[d])));
      o.Set("shape", shape);
      o.Set("parameter", Napi::Boolean::New(env, keys[i].parameter));
      o.Set("trainable", Napi::Boolean::New(env, keys[i].trainable));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

  Napi::Value LoadWeights(const Napi::CallbackInfo& info) {
    const std::string path = Args(info, "Session.loadWeights").path(0, "path");
    auto report = std::make_shared<io::LoadReport>();
    return queue(
        info.Env(), "loadWeights", [=](Session& s, Progress&) { *report = s.loadWeights(path); },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("loaded", Napi::Number::New(env, static_cast<double>(report->loaded.size())));
          o.Set("skipped", stringArray(env, report->skipped));
          return o;
        });
  }

  // replaceHead(numClasses) -> Promise<void>
  Napi::Value ReplaceHead(const Napi::CallbackInfo& info) {
    const int64_t n = Args(info, "Session.replaceHead").integer(0, "numClasses", 1, kMaxClasses);
    return queue(info.Env(), "replaceHead", [=](Session& s, Progress&) { s.replaceHead(n); }, undefinedResult);
  }

  Napi::Value SetTrainableGroups(const Napi::CallbackInfo& info) {
    auto groups = Args(info, "Session.setTrainableGroups").strings(0, "groups");
    Session& s = idle(info.Env(), "setTrainableGroups");
    std::lock_guard<std::mutex> lock(s.mutex);
    guard(info.Env(), "setTrainableGroups", [&] { s.setTrainableGroups(groups); });
    handle_->publish();
    return info.Env().Undefined();
  }

  // setFrozenBatchNorm('train' | 'eval')
  Napi::Value SetFrozenBatchNorm(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.setFrozenBatchNorm");
    const std::string mode = a.string(0, "mode");
    if (mode != "train" && mode != "eval") throw a.rangeError("mode must be 'train' or 'eval', got '" + mode + "'");
    Session& s = idle(info.Env(), "setFrozenBatchNorm");
    std::lock_guard<std::mutex> lock(s.mutex);
    s.setFrozenBatchNormEval(mode == "eval");
    handle_->publish();
    return info.Env().Undefined();
  }

  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.configureOptimizer");
    const Options o = a.options(0);
    train::OptimConfig cfg;
    cfg.lr = o.number("lr", cfg.lr);
    cfg.stepSize = o.integer("stepSize", cfg.stepSize, 1, kMaxSafeInteger);
    cfg.gamma = o.number("gamma", cfg.gamma);
    Session& s = idle(info.Env(), "configureOptimizer");
    std::lock_guard<std::mutex> lock(s.mutex);
    guard(info.Env(), "configureOptimizer", [&] { s.configureOptimizer(cfg); });
    handle_->publish();
    return info.Env().Undefined();
  }

  // trainEpoch(images, labels, {batchSize, seed, onProgress(batch, batches, loss), signal})
  // An abort between batches rejects with an AbortError; the weights then hold the steps
  // taken so far (a run resumes from its last checkpoint).
  Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.trainEpoch");
    auto cache = data::ImageSet::cacheOf(a, 0);
    auto labels = labelArray(a, 1);
    const Options o = a.options(2);
    const int64_t batch = o.integer("batchSize", 32, 1, kMaxBatch);
    const auto seed = static_cast<uint64_t>(o.integer("seed", 0, 0, kMaxSafeInteger));
    auto abort = std::make_shared<AbortWatch>(a, o.get("signal"));
    auto stats = std::make_shared<train::EpochStats>();
    return queue(
        info.Env(), "trainEpoch",
        [=, flag = abort->flag()](Session& s, Progress& progress) {
          *stats = s.trainEpoch(*cache, labels, batch, seed, [&](int64_t b, int64_t n, double loss) {
            progress.report({static_cast<double>(b), static_cast<double>(n), loss});
            if (b < n) flag.throwIfAborted();  // between batches; a finished epoch stands
          });
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("loss", stats->loss);
          r.Set("accuracy", stats->accuracy);
          r.Set("samples", Napi::Number::New(env, static_cast<double>(stats->samples)));
          r.Set("batches", Napi::Number::New(env, static_cast<double>(stats->batches)));
          r.Set("seconds", stats->seconds);
          r.Set("lr", stats->lr);
          return r;
        },
        o.function("onProgress"), abort);
  }

  // evaluate(images, labels, {batchSize, onProgress, signal}) -> {loss, probs, labels, indices, ...}
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.evaluate");
    auto cache = data::ImageSet::cacheOf(a, 0);
    auto labels = labelArray(a, 1);
    const Options o = a.options(2);
    const int64_t batch = o.integer("batchSize", 32, 1, kMaxBatch);
    auto abort = std::make_shared<AbortWatch>(a, o.get("signal"));
    auto result = std::make_shared<train::EvalResult>();
    return queue(
        info.Env(), "evaluate",
        [=, flag = abort->flag()](Session& s, Progress& progress) {
          *result = s.evaluate(*cache, labels, batch, [&](int64_t b, int64_t n, double loss) {
            progress.report({static_cast<double>(b), static_cast<double>(n), loss});
            if (b < n) flag.throwIfAborted();
          });
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("loss", result->loss);
          r.Set("seconds", result->seconds);
          r.Set("n", Napi::Number::New(env, static_cast<double>(result->n)));
          r.Set("numClasses", Napi::Number::New(env, static_cast<double>(result->numClasses)));
          r.Set("probs", float32Array(env, result->probs.data(), result->probs.size()));
          r.Set("labels", int32Array(env, result->labels));
          r.Set("indices", int32Array(env, result->indices));
          return r;
        },
        o.function("onProgress"), abort);
  }

  // features(images, {batchSize, layer, onProgress, signal}) -> {n, dim, layer, features, indices, seconds}
  Napi::Value Features(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.features");
    auto cache = data::ImageSet::cacheOf(a, 0);
    const Options o = a.options(1);
    const int64_t batch = o.integer("batchSize", 32, 1, kMaxBatch);
    const std::string layer = o.string("layer", "");
    auto abort = std::make_shared<AbortWatch>(a, o.get("signal"));
    auto result = std::make_shared<train::FeatureResult>();
    return queue(
        info.Env(), "features",
        [=, flag = abort->flag()](Session& s, Progress& progress) {
          *result = s.features(*cache, batch, layer, [&](int64_t b, int64_t n, double) {
            progress.report({static_cast<double>(b), static_cast<double>(n), 0.0});
            if (b < n) flag.throwIfAborted();
          });
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("n", Napi::Number::New(env, static_cast<double>(result->n)));
          r.Set("dim", Napi::Number::New(env, static_cast<double>(result->dim)));
          r.Set("layer", result->layer);
          r.Set("seconds", result->seconds);
          r.Set("features", float32Array(env, result->features.data(), result->features.size()));
          r.Set("indices", int32Array(env, result->indices));
          return r;
        },
        o.function("onProgress"), abort);
  }

  // predict(input: Float32Array, shape: number[]) -> {data: Float32Array, shape: number[]}
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Args a(info, "Session.predict");
    auto input = a.float32s(0, "input");
    const std::vector<int64_t> shape = a.integers(1, "shape");
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    if (shape.size() != 4 || numel != static_cast<int64_t>(input.ElementLength()))
      throw a.rangeError("shape must be [N, 3, H, W] and match the input length");
    // Copied here, on the JS thread: the caller may change its array once this returns.
    auto x = std::make_shared<std::vector<float>>(input.Data(), input.Data() + input.ElementLength());
    auto out = std::make_shared<torch::Tensor>();
    return queue(
        env, "predict",
        [=](Session& s, Progress&) {
          *out = s.predict(torch::from_blob(x->data(), shape, torch::kFloat)).contiguous();
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("data", float32Array(env, out->data_ptr<float>(), static_cast<size_t>(out->numel())));
          auto sh = Napi::Array::New(env);
          for (int64_t i = 0; i < out->dim(); ++i)
            sh.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(out->size(i))));
          r.Set("shape", sh);
          return r;
        });
  }

  // layerCam(input: Float32Array [n, 3, size, size] normalised, {n, size, layers?, classes?, fusion?})
  //   -> Promise<{layers, maps, fused, classes, probs, n, height, width, numClasses}>
  Napi::Value LayerCam(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Args a(info, "Session.layerCam");
    auto input = a.float32s(0, "input");
    if (!a.has(1)) throw a.typeError("options", "an object {n, size, layers?, classes?, fusion?}");
    const Options o = a.options(1);
    const int64_t N = o.integer("n", 0, 1, kMaxBatch), S = o.integer("size", 0, 1, 16384);
    if (static_cast<double>(input.ElementLength()) != static_cast<double>(N) * 3 * S * S)
      throw a.rangeError("input has " + std::to_string(input.ElementLength()) +
                         " values, expected n * 3 * size * size = " + std::to_string(N * 3 * S * S));
    const CamArgs args = camArgs(a, o, static_cast<size_t>(N));
    auto x = std::make_shared<std::vector<float>>(input.Data(), input.Data() + input.ElementLength());
    auto out = std::make_shared<cam::CamResult>();
    return queue(
        env, "layerCam",
        [=](Session& s, Progress&) {
          *out = s.layerCam(torch::from_blob(x->data(), {N, 3, S, S}, torch::kFloat), args.layers, args.classes,
                            args.fusion);
        },
        [=](Napi::Env env) -> Napi::Value { return camResultObject(env, *out); });
  }

  // layerCamImages(images: ImageSet, indices: number[] | Int32Array, {layers?, classes?, fusion?})
  //   -> the same as layerCam; the batch is built as evaluate() builds it.
  Napi::Value LayerCamImages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Args a(info, "Session.layerCamImages");
    auto cache = data::ImageSet::cacheOf(a, 0);
    const std::vector<int64_t> indices = a.integers(1, "indices");
    const CamArgs args = camArgs(a, a.options(2), indices.size());
    auto out = std::make_shared<cam::CamResult>();
    return queue(
        env, "layerCamImages",
        [=](Session& s, Progress&) {
          *out = s.layerCamImages(*cache, indices, args.layers, args.classes, args.fusion);
        },
        [=](Napi::Env env) -> Napi::Value { return camResultObject(env, *out); });
  }

  Napi::Value SaveCheckpoint(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.saveCheckpoint");
    const std::string path = a.path(0, "path");
    const std::string meta = a.has(1) ? a.string(1, "metadata") : "{}";
    return queue(
        info.Env(), "saveCheckpoint", [=](Session& s, Progress&) { s.saveCheckpoint(path, meta); }, undefinedResult);
  }

  Napi::Value LoadCheckpoint(const Napi::CallbackInfo& info) {
    const std::string path = Args(info, "Session.loadCheckpoint").path(0, "path");
    auto meta = std::make_shared<std::string>();
    return queue(
        info.Env(), "loadCheckpoint", [=](Session& s, Progress&) { *meta = s.loadCheckpoint(path); },
        [=](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *meta); });
  }

  // saveWeights(path, {mergeLora = true}): with LoRA adapters, merged weights by default.
  Napi::Value SaveWeights(const Napi::CallbackInfo& info) {
    const Args a(info, "Session.saveWeights");
    const std::string path = a.path(0, "path");
    const bool mergeLora = a.options(1).boolean("mergeLora", true);
    return queue(
        info.Env(), "saveWeights", [=](Session& s, Progress&) { s.saveWeights(path, mergeLora); }, undefinedResult);
  }

  // applyLora({groups, rank = 8, alpha = 16})
  //   -> Promise<{adapted, skipped, loraParams, trainableParams, totalParams}>
  Napi::Value ApplyLora(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Args a(info, "Session.applyLora");
    const Options o = a.options(0);
    auto groups = o.strings("groups");
    const int64_t rank = o.integer("rank", 8, 1, 1 << 16);
    const double alpha = o.number("alpha", 16);
    struct Result {
      nn::LoraReport report;
      int64_t trainableParams = 0, totalParams = 0;
    };
    auto r = std::make_shared<Result>();
    return queue(
        env, "applyLora",
        [=](Session& s, Progress&) {
          r->report = s.applyLora(groups, rank, alpha);
          r->trainableParams = s.paramCount(true);
          r->totalParams = s.paramCount(false);
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("adapted", stringArray(env, r->report.adapted));
          auto skipped = Napi::Array::New(env, r->report.skipped.size());
          for (size_t i = 0; i < r->report.skipped.size(); ++i) {
            Napi::Object sk = Napi::Object::New(env);
            sk.Set("name", r->report.skipped[i].name);
            sk.Set("reason", r->report.skipped[i].reason);
            skipped.Set(static_cast<uint32_t>(i), sk);
          }
          out.Set("skipped", skipped);
          out.Set("loraParams", Napi::Number::New(env, static_cast<double>(r->report.loraParams)));
          out.Set("trainableParams", Napi::Number::New(env, static_cast<double>(r->trainableParams)));
          out.Set("totalParams", Napi::Number::New(env, static_cast<double>(r->totalParams)));
          return out;
        });
  }

  // mergeLora() -> Promise<void>
  Napi::Value MergeLora(const Napi::CallbackInfo& info) {
    return queue(info.Env(), "mergeLora", [](Session& s, Progress&) { s.mergeLora(); }, undefinedResult);
  }

  // dispose() -> Promise<void>: frees the model, its optimizer state and gradients once
  // the calls queued before it have run; any later call is an error. Idempotent.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HandlePtr h = handle_;
    if (h->disposed) {
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    h->disposed = true;
    return AsyncTask::run(
        env, "Session.dispose",
        [h](Progress&) {
          {
            std::lock_guard<std::mutex> lock(h->factsMutex);
            h->facts.reset();
          }
          h->session.reset();  // the last reference: tasks queued before have all run
          releaseCpuCache();
        },
        undefinedResult, {Napi::Value(), nullptr, track("dispose")});
  }

  static Napi::Value undefinedResult(Napi::Env env) { return env.Undefined(); }

  HandlePtr handle_;
};

}  // namespace

void registerSession(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", SessionWrap::Define(env));
}

}  // namespace thtl
