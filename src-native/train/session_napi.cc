// JavaScript face of train::Session. Every call that computes runs on a worker thread.
#include <napi.h>

#include "common/async.h"
#include "common/classes.h"
#include "common/cpu_allocator.h"
#include "common/errors.h"
#include "common/register.h"
#include "data/image_set.h"
#include "train/session.h"

namespace thtl {
namespace {

using train::Session;
using SessionPtr = std::shared_ptr<Session>;

std::vector<std::string> stringArray(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of strings");
  auto arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

std::vector<int32_t> labelArray(const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), "labels must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Object optionsArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsObject()) return info[i].As<Napi::Object>();
  return Napi::Object::New(info.Env());
}

double numberOr(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::string stringOr(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Float32Array floatArray(Napi::Env env, const float* data, size_t n) {
  auto out = Napi::Float32Array::New(env, n);
  std::copy(data, data + n, out.Data());
  return out;
}

Napi::Int32Array intArray(Napi::Env env, const std::vector<int32_t>& v) {
  auto out = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

Napi::Array stringList(Napi::Env env, const std::vector<std::string>& v) {
  auto out = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) out.Set(static_cast<uint32_t>(i), v[i]);
  return out;
}

// number[] (of integers) or Int32Array -> integers; anything else is a TypeError naming `what`.
std::vector<int64_t> integerList(const Napi::Value& v, const std::string& what) {
  Napi::Env env = v.Env();
  std::vector<int64_t> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto arr = v.As<Napi::Int32Array>();
    out.assign(arr.Data(), arr.Data() + arr.ElementLength());
  } else if (v.IsArray()) {
    auto arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value x = arr.Get(i);
      const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : 0.5;
      if (d != static_cast<double>(static_cast<int64_t>(d))) throw Napi::TypeError::New(env, what + " must hold integers");
      out.push_back(static_cast<int64_t>(d));
    }
  } else {
    throw Napi::TypeError::New(env, what + " must be a number[] or an Int32Array");
  }
  return out;
}

// LayerCAM options shared by layerCam and layerCamImages: {layers?, classes?, fusion?}.
// classes: a number (every image), number[] or Int32Array (one per image; -1 = predicted).
struct CamArgs {
  std::vector<std::string> layers;  // empty: the model's default camLayers
  std::vector<int64_t> classes;     // empty: predicted for every image
  std::string fusion = "none";
};

CamArgs camArgs(const Napi::Object& o, size_t n) {
  Napi::Env env = o.Env();
  CamArgs a;
  Napi::Value layers = o.Get("layers");
  if (!layers.IsUndefined() && !layers.IsNull()) a.layers = stringArray(layers, "options.layers");
  a.fusion = stringOr(o, "fusion", "none");
  Napi::Value c = o.Get("classes");
  if (c.IsUndefined() || c.IsNull()) return a;
  if (c.IsNumber()) {
    const double v = c.As<Napi::Number>().DoubleValue();
    if (v != static_cast<double>(static_cast<int64_t>(v)))
      throw Napi::TypeError::New(env, "options.classes must hold integers (-1 = the predicted class)");
    a.classes.assign(n, static_cast<int64_t>(v));
  } else {
    a.classes = integerList(c, "options.classes (-1 = the predicted class)");
  }
  if (a.classes.size() != n)
    throw Napi::RangeError::New(env, "options.classes has " + std::to_string(a.classes.size()) +
                                         " entries for " + std::to_string(n) + " images (one per image)");
  return a;
}

Napi::Value camResultObject(Napi::Env env, const cam::CamResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("layers", stringList(env, r.layers));
  o.Set("maps", floatArray(env, r.maps.data_ptr<float>(), static_cast<size_t>(r.maps.numel())));
  if (r.fused.defined())
    o.Set("fused", floatArray(env, r.fused.data_ptr<float>(), static_cast<size_t>(r.fused.numel())));
  else
    o.Set("fused", env.Null());
  std::vector<int32_t> classes(r.classes.begin(), r.classes.end());
  o.Set("classes", intArray(env, classes));
  o.Set("probs", floatArray(env, r.probs.data_ptr<float>(), static_cast<size_t>(r.probs.numel())));
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
  bool channelsLast = false;
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
  // The promise resolves with done(env).
  // With `abort` (options.signal), an AbortSignal that fired before the task started
  // rejects it with an AbortError; the work checks it between batches.
  template <class Work>
  Napi::Value queue(Napi::Env env, const std::string& what, Work work, AsyncTask::Done done,
                    const Napi::Value& onProgress = Napi::Value(),
                    std::shared_ptr<AbortWatch> abort = nullptr) {
    HandlePtr h = handle_;
    if (h->disposed) throw disposedError(env, what);
    return AsyncTask::run(
        env, what,
        [h, work, flag = abort ? abort->flag() : AbortFlag()](Progress& progress) {
          flag.throwIfAborted();
          std::lock_guard<std::mutex> lock(h->session->mutex);
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
        std::move(done), onProgress, track(what, abort));
  }

  // Counts a call as pending on this session until it settles (info().busy, idle()), and
  // stops listening to its AbortSignal then.
  AsyncTask::Settled track(const std::string& what, std::shared_ptr<AbortWatch> abort = nullptr) {
    HandlePtr h = handle_;
    h->inFlight++;
    h->running = what;
    return [h, abort] {
      if (--h->inFlight == 0) h->running.clear();
      if (abort) abort->unwatch();
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

  // Session.create({model, numClasses, weights?, device?, seed?, precision?, channelsLast?}) -> Promise<Session>
  static Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = optionsArg(info, 0);
    const std::string model = stringOr(o, "model", "");
    if (model.empty()) throw Napi::TypeError::New(env, "options.model must name a model");
    const auto classes = static_cast<int64_t>(numberOr(o, "numClasses", 0));
    const std::string device = stringOr(o, "device", "cpu");
    const std::string weights = stringOr(o, "weights", "");
    const auto seed = static_cast<uint64_t>(numberOr(o, "seed", 0));
    const std::string precision = stringOr(o, "precision", "fp32");
    const Napi::Value cl = o.Get("channelsLast");
    if (!cl.IsUndefined() && !cl.IsBoolean())
      throw Napi::TypeError::New(env, "options.channelsLast must be a boolean");
    const bool channelsLast = cl.IsBoolean() && cl.As<Napi::Boolean>().Value();
    auto handle = std::make_shared<Handle>();
    return AsyncTask::run(
        env, "creating " + model,
        [=](Progress&) {
          auto s = std::make_shared<Session>(model, classes, device, seed);
          s->setPrecision(precision);
          if (!weights.empty()) s->loadWeights(weights);
          if (channelsLast) s->setChannelsLast(true);
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
    o.Set("groups", stringList(env, f->groups));
    o.Set("trainableGroups", stringList(env, f->trainableGroups));
    o.Set("camLayers", stringList(env, f->camLayers));
    o.Set("camLayerChoices", stringList(env, f->camLayerChoices));
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
    const std::string path = stringArg(info, 0, "weights path");
    auto report = std::make_shared<io::LoadReport>();
    return queue(
        info.Env(), "loadWeights", [=](Session& s, Progress&) { *report = s.loadWeights(path); },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("loaded", Napi::Number::New(env, static_cast<double>(report->loaded.size())));
          o.Set("skipped", stringList(env, report->skipped));
          return o;
        });
  }

  // replaceHead(numClasses) -> Promise<void>
  Napi::Value ReplaceHead(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber())
      throw Napi::TypeError::New(info.Env(), "replaceHead(numClasses) needs a number");
    const auto n = info[0].As<Napi::Number>().Int64Value();
    return queue(info.Env(), "replaceHead", [=](Session& s, Progress&) { s.replaceHead(n); }, undefinedResult);
  }

  Napi::Value SetTrainableGroups(const Napi::CallbackInfo& info) {
    auto groups = stringArray(info.Length() > 0 ? info[0] : info.Env().Undefined(), "groups");
    Session& s = idle(info.Env(), "setTrainableGroups");
    std::lock_guard<std::mutex> lock(s.mutex);
    guard(info.Env(), "setTrainableGroups", [&] { s.setTrainableGroups(groups); });
    handle_->publish();
    return info.Env().Undefined();
  }

  // setFrozenBatchNorm('train' | 'eval')
  Napi::Value SetFrozenBatchNorm(const Napi::CallbackInfo& info) {
    const std::string mode = stringArg(info, 0, "frozen BatchNorm mode");
    if (mode != "train" && mode != "eval")
      throw Napi::TypeError::New(info.Env(), "frozen BatchNorm mode must be 'train' or 'eval', got '" + mode + "'");
    Session& s = idle(info.Env(), "setFrozenBatchNorm");
    std::lock_guard<std::mutex> lock(s.mutex);
    s.setFrozenBatchNormEval(mode == "eval");
    handle_->publish();
    return info.Env().Undefined();
  }

  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info) {
    Napi::Object o = optionsArg(info, 0);
    train::OptimConfig cfg;
    cfg.lr = numberOr(o, "lr", cfg.lr);
    cfg.stepSize = static_cast<int64_t>(numberOr(o, "stepSize", static_cast<double>(cfg.stepSize)));
    cfg.gamma = numberOr(o, "gamma", cfg.gamma);
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
    auto cache = data::ImageSet::cacheOf(info[0], "images");
    auto labels = labelArray(info[1]);
    Napi::Object o = optionsArg(info, 2);
    const auto batch = static_cast<int64_t>(numberOr(o, "batchSize", 32));
    const auto seed = static_cast<uint64_t>(numberOr(o, "seed", 0));
    auto abort = std::make_shared<AbortWatch>(info.Env(), o.Get("signal"), "Session.trainEpoch");
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
        o.Get("onProgress"), abort);
  }

  // evaluate(images, labels, {batchSize, onProgress, signal}) -> {loss, probs, labels, indices, ...}
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    auto cache = data::ImageSet::cacheOf(info[0], "images");
    auto labels = labelArray(info[1]);
    Napi::Object o = optionsArg(info, 2);
    const auto batch = static_cast<int64_t>(numberOr(o, "batchSize", 32));
    auto abort = std::make_shared<AbortWatch>(info.Env(), o.Get("signal"), "Session.evaluate");
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
          r.Set("probs", floatArray(env, result->probs.data(), result->probs.size()));
          r.Set("labels", intArray(env, result->labels));
          r.Set("indices", intArray(env, result->indices));
          return r;
        },
        o.Get("onProgress"), abort);
  }

  // predict(input: Float32Array, shape: number[]) -> {data: Float32Array, shape: number[]}
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsArray())
      throw Napi::TypeError::New(env, "predict(input: Float32Array, shape: number[])");
    auto input = info[0].As<Napi::Float32Array>();
    const std::vector<int64_t> shape = integerList(info[1], "predict: shape");
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    if (shape.size() != 4 || numel != static_cast<int64_t>(input.ElementLength()))
      throw Napi::RangeError::New(env, "predict: shape must be [N, 3, H, W] and match the input length");
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
          r.Set("data", floatArray(env, out->data_ptr<float>(), static_cast<size_t>(out->numel())));
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
    if (info.Length() < 2 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[1].IsObject())
      throw Napi::TypeError::New(env, "layerCam(input: Float32Array, {n, size, layers?, classes?, fusion?})");
    auto input = info[0].As<Napi::Float32Array>();
    Napi::Object o = info[1].As<Napi::Object>();
    const double n = numberOr(o, "n", 0), size = numberOr(o, "size", 0);
    if (!(n >= 1) || !(size >= 1) || n != static_cast<double>(static_cast<int64_t>(n)) ||
        size != static_cast<double>(static_cast<int64_t>(size)))
      throw Napi::TypeError::New(env, "layerCam: options.n and options.size must be positive integers");
    const auto N = static_cast<int64_t>(n), S = static_cast<int64_t>(size);
    if (static_cast<double>(input.ElementLength()) != n * 3 * size * size)
      throw Napi::RangeError::New(env, "layerCam: input has " + std::to_string(input.ElementLength()) +
                                           " values, expected n * 3 * size * size = " +
                                           std::to_string(N * 3 * S * S));
    const CamArgs args = camArgs(o, static_cast<size_t>(N));
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
    auto cache = data::ImageSet::cacheOf(info.Length() > 0 ? info[0] : env.Undefined(), "images");
    const std::vector<int64_t> indices =
        integerList(info.Length() > 1 ? info[1] : env.Undefined(), "layerCamImages(images, indices, options?): indices");
    const CamArgs args = camArgs(optionsArg(info, 2), indices.size());
    auto out = std::make_shared<cam::CamResult>();
    return queue(
        env, "layerCamImages",
        [=](Session& s, Progress&) {
          *out = s.layerCamImages(*cache, indices, args.layers, args.classes, args.fusion);
        },
        [=](Napi::Env env) -> Napi::Value { return camResultObject(env, *out); });
  }

  Napi::Value SaveCheckpoint(const Napi::CallbackInfo& info) {
    const std::string path = stringArg(info, 0, "checkpoint path");
    const std::string meta = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "{}";
    return queue(
        info.Env(), "saveCheckpoint", [=](Session& s, Progress&) { s.saveCheckpoint(path, meta); }, undefinedResult);
  }

  Napi::Value LoadCheckpoint(const Napi::CallbackInfo& info) {
    const std::string path = stringArg(info, 0, "checkpoint path");
    auto meta = std::make_shared<std::string>();
    return queue(
        info.Env(), "loadCheckpoint", [=](Session& s, Progress&) { *meta = s.loadCheckpoint(path); },
        [=](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *meta); });
  }

  // saveWeights(path, {mergeLora = true}): with LoRA adapters, merged weights by default.
  Napi::Value SaveWeights(const Napi::CallbackInfo& info) {
    const std::string path = stringArg(info, 0, "weights path");
    Napi::Object o = optionsArg(info, 1);
    const bool mergeLora = !o.Get("mergeLora").IsBoolean() || o.Get("mergeLora").As<Napi::Boolean>().Value();
    return queue(
        info.Env(), "saveWeights", [=](Session& s, Progress&) { s.saveWeights(path, mergeLora); }, undefinedResult);
  }

  // applyLora({groups, rank = 8, alpha = 16})
  //   -> Promise<{adapted, skipped, loraParams, trainableParams, totalParams}>
  Napi::Value ApplyLora(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = optionsArg(info, 0);
    auto groups = stringArray(o.Get("groups"), "options.groups");
    const double rank = numberOr(o, "rank", 8);
    if (rank != static_cast<double>(static_cast<int64_t>(rank)))
      throw Napi::TypeError::New(env, "options.rank must be an integer");
    const double alpha = numberOr(o, "alpha", 16);
    struct Result {
      nn::LoraReport report;
      int64_t trainableParams = 0, totalParams = 0;
    };
    auto r = std::make_shared<Result>();
    return queue(
        env, "applyLora",
        [=](Session& s, Progress&) {
          r->report = s.applyLora(groups, static_cast<int64_t>(rank), alpha);
          r->trainableParams = s.paramCount(true);
          r->totalParams = s.paramCount(false);
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("adapted", stringList(env, r->report.adapted));
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
        env, "dispose",
        [h](Progress&) {
          {
            std::lock_guard<std::mutex> lock(h->factsMutex);
            h->facts.reset();
          }
          h->session.reset();  // the last reference: tasks queued before have all run
          releaseCpuCache();
        },
        undefinedResult, Napi::Value(), track("dispose"));
  }

  static Napi::Value undefinedResult(Napi::Env env) { return env.Undefined(); }

  HandlePtr handle_;
};

}  // namespace

void registerLoraTest(Napi::Env env, Napi::Object exports);  // nn/lora_napi.cc

void registerSession(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", SessionWrap::Define(env));
  registerLoraTest(env, exports);  // _testLoraConv
}

}  // namespace thtl
