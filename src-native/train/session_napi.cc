// JavaScript face of train::Session. Every call that computes runs on a worker thread.
#include <napi.h>

#include "common/async.h"
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

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::FunctionReference* ctor;

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
         InstanceMethod("saveWeights", &SessionWrap::SaveWeights)});
    ctor = new Napi::FunctionReference(Napi::Persistent(fn));  // lives as long as the process
    return fn;
  }

  explicit SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
    if (info.Length() < 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use Session.create(options) to make a Session");
    session_ = *info[0].As<Napi::External<SessionPtr>>().Data();
  }

 private:
  // Session.create({model, numClasses, weights?, device?, seed?}) -> Promise<Session>
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
    auto result = std::make_shared<SessionPtr>();
    auto report = std::make_shared<io::LoadReport>();
    return AsyncTask::run(
        env, "creating " + model,
        [=](Progress&) {
          *result = std::make_shared<Session>(model, classes, device, seed);
          (*result)->setPrecision(precision);
          if (!weights.empty()) *report = (*result)->loadWeights(weights);
          if (channelsLast) (*result)->setChannelsLast(true);
        },
        [=](Napi::Env env) -> Napi::Value {
          return ctor->New({Napi::External<SessionPtr>::New(env, result.get())});
        });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(session_->mutex);
    const auto& mi = session_->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("model", mi.name);
    o.Set("numClasses", Napi::Number::New(env, static_cast<double>(session_->numClasses())));
    o.Set("device", session_->device().str());
    o.Set("inputSize", Napi::Number::New(env, static_cast<double>(mi.inputSize)));
    o.Set("params", Napi::Number::New(env, static_cast<double>(session_->paramCount(false))));
    o.Set("trainableParams", Napi::Number::New(env, static_cast<double>(session_->paramCount(true))));
    o.Set("lr", Napi::Number::New(env, session_->currentLr()));
    o.Set("frozenBatchNorm", session_->frozenBatchNormEval() ? "eval" : "train");
    o.Set("precision", session_->precision());
    o.Set("channelsLast", Napi::Boolean::New(env, session_->channelsLast()));
    auto groups = Napi::Array::New(env);
    for (size_t i = 0; i < mi.groups.size(); ++i) groups.Set(static_cast<uint32_t>(i), mi.groups[i].name);
    o.Set("groups", groups);
    auto trainable = Napi::Array::New(env);
    auto tg = session_->trainableGroups();
    for (size_t i = 0; i < tg.size(); ++i) trainable.Set(static_cast<uint32_t>(i), tg[i]);
    o.Set("trainableGroups", trainable);
    o.Set("camLayers", stringList(env, mi.camLayers));
    o.Set("camLayerChoices", stringList(env, session_->camLayerNames()));
    return o;
  }

  Napi::Value StateKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(session_->mutex);
    const auto keys = guard(env, "stateKeys", [&] { return session_->stateKeys(); });
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
    auto s = session_;
    auto report = std::make_shared<io::LoadReport>();
    return AsyncTask::run(
        info.Env(), "loading weights " + path,
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *report = s->loadWeights(path);
        },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("loaded", Napi::Number::New(env, static_cast<double>(report->loaded.size())));
          auto skipped = Napi::Array::New(env);
          for (size_t i = 0; i < report->skipped.size(); ++i)
            skipped.Set(static_cast<uint32_t>(i), report->skipped[i]);
          o.Set("skipped", skipped);
          return o;
        });
  }

  Napi::Value ReplaceHead(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber())
      throw Napi::TypeError::New(info.Env(), "replaceHead(numClasses) needs a number");
    const auto n = info[0].As<Napi::Number>().Int64Value();
    // The lock is taken on the compute thread: taken here, a task queued before this call
    // and waiting for it would never let this call's turn come.
    guard(info.Env(), "replaceHead", [&] {
      onComputeThread([&] {
        std::lock_guard<std::mutex> lock(session_->mutex);
        session_->replaceHead(n);
      });
    });
    return info.Env().Undefined();
  }

  Napi::Value SetTrainableGroups(const Napi::CallbackInfo& info) {
    auto groups = stringArray(info.Length() > 0 ? info[0] : info.Env().Undefined(), "groups");
    std::lock_guard<std::mutex> lock(session_->mutex);
    guard(info.Env(), "setTrainableGroups", [&] { session_->setTrainableGroups(groups); });
    return info.Env().Undefined();
  }

  // setFrozenBatchNorm('train' | 'eval')
  Napi::Value SetFrozenBatchNorm(const Napi::CallbackInfo& info) {
    const std::string mode = stringArg(info, 0, "frozen BatchNorm mode");
    if (mode != "train" && mode != "eval")
      throw Napi::TypeError::New(info.Env(), "frozen BatchNorm mode must be 'train' or 'eval', got '" + mode + "'");
    std::lock_guard<std::mutex> lock(session_->mutex);
    session_->setFrozenBatchNormEval(mode == "eval");
    return info.Env().Undefined();
  }

  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info) {
    Napi::Object o = optionsArg(info, 0);
    train::OptimConfig cfg;
    cfg.lr = numberOr(o, "lr", cfg.lr);
    cfg.stepSize = static_cast<int64_t>(numberOr(o, "stepSize", static_cast<double>(cfg.stepSize)));
    cfg.gamma = numberOr(o, "gamma", cfg.gamma);
    std::lock_guard<std::mutex> lock(session_->mutex);
    guard(info.Env(), "configureOptimizer", [&] { session_->configureOptimizer(cfg); });
    return info.Env().Undefined();
  }

  // trainEpoch(images, labels, {batchSize, seed, onProgress(batch, batches, loss)})
  Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
    auto cache = data::ImageSet::cacheOf(info[0], "images");
    auto labels = labelArray(info[1]);
    Napi::Object o = optionsArg(info, 2);
    const auto batch = static_cast<int64_t>(numberOr(o, "batchSize", 32));
    const auto seed = static_cast<uint64_t>(numberOr(o, "seed", 0));
    auto s = session_;
    auto stats = std::make_shared<train::EpochStats>();
    return AsyncTask::run(
        info.Env(), "training epoch",
        [=](Progress& progress) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *stats = s->trainEpoch(*cache, labels, batch, seed, [&](int64_t b, int64_t n, double loss) {
            progress.report({static_cast<double>(b), static_cast<double>(n), loss});
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
        o.Get("onProgress"));
  }

  // evaluate(images, labels, {batchSize, onProgress}) -> {loss, probs, labels, indices, ...}
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    auto cache = data::ImageSet::cacheOf(info[0], "images");
    auto labels = labelArray(info[1]);
    Napi::Object o = optionsArg(info, 2);
    const auto batch = static_cast<int64_t>(numberOr(o, "batchSize", 32));
    auto s = session_;
    auto result = std::make_shared<train::EvalResult>();
    return AsyncTask::run(
        info.Env(), "evaluating",
        [=](Progress& progress) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *result = s->evaluate(*cache, labels, batch, [&](int64_t b, int64_t n, double loss) {
            progress.report({static_cast<double>(b), static_cast<double>(n), loss});
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
        o.Get("onProgress"));
  }

  // predict(input: Float32Array, shape: number[]) -> {data: Float32Array, shape: number[]}
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsArray())
      throw Napi::TypeError::New(env, "predict(input: Float32Array, shape: number[])");
    auto input = info[0].As<Napi::Float32Array>();
    auto shapeArr = info[1].As<Napi::Array>();
    std::vector<int64_t> shape;
    int64_t numel = 1;
    for (uint32_t i = 0; i < shapeArr.Length(); ++i) {
      shape.push_back(shapeArr.Get(i).As<Napi::Number>().Int64Value());
      numel *= shape.back();
    }
    if (shape.size() != 4 || numel != static_cast<int64_t>(input.ElementLength()))
      throw Napi::RangeError::New(env, "predict: shape must be [N, 3, H, W] and match the input length");
    auto x = std::make_shared<torch::Tensor>(
        torch::from_blob(input.Data(), shape, torch::kFloat).clone());
    auto s = session_;
    auto out = std::make_shared<torch::Tensor>();
    return AsyncTask::run(
        env, "predict",
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *out = s->predict(*x).contiguous();
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
    auto x = std::make_shared<torch::Tensor>(torch::from_blob(input.Data(), {N, 3, S, S}, torch::kFloat).clone());
    auto s = session_;
    auto out = std::make_shared<cam::CamResult>();
    return AsyncTask::run(
        env, "layerCam",
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *out = s->layerCam(*x, args.layers, args.classes, args.fusion);
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
    auto s = session_;
    auto out = std::make_shared<cam::CamResult>();
    return AsyncTask::run(
        env, "layerCamImages",
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *out = s->layerCamImages(*cache, indices, args.layers, args.classes, args.fusion);
        },
        [=](Napi::Env env) -> Napi::Value { return camResultObject(env, *out); });
  }

  Napi::Value SaveCheckpoint(const Napi::CallbackInfo& info) {
    const std::string path = stringArg(info, 0, "checkpoint path");
    const std::string meta = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "{}";
    auto s = session_;
    return AsyncTask::run(
        info.Env(), "saving checkpoint " + path,
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          s->saveCheckpoint(path, meta);
        },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  }

  Napi::Value LoadCheckpoint(const Napi::CallbackInfo& info) {
    const std::string path = stringArg(info, 0, "checkpoint path");
    auto s = session_;
    auto meta = std::make_shared<std::string>();
    return AsyncTask::run(
        info.Env(), "loading checkpoint " + path,
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          *meta = s->loadCheckpoint(path);
        },
        [=](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *meta); });
  }

  // saveWeights(path, {mergeLora = true}): with LoRA adapters, merged weights by default.
  Napi::Value SaveWeights(const Napi::CallbackInfo& info) {
    const std::string path = stringArg(info, 0, "weights path");
    Napi::Object o = optionsArg(info, 1);
    const bool mergeLora = !o.Get("mergeLora").IsBoolean() || o.Get("mergeLora").As<Napi::Boolean>().Value();
    auto s = session_;
    return AsyncTask::run(
        info.Env(), "saving weights " + path,
        [=](Progress&) {
          std::lock_guard<std::mutex> lock(s->mutex);
          s->saveWeights(path, mergeLora);
        },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  }

  // applyLora({groups, rank = 8, alpha = 16}) -> {adapted, skipped, loraParams, trainableParams, totalParams}
  Napi::Value ApplyLora(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = optionsArg(info, 0);
    auto groups = stringArray(o.Get("groups"), "options.groups");
    const double rank = numberOr(o, "rank", 8);
    if (rank != static_cast<double>(static_cast<int64_t>(rank)))
      throw Napi::TypeError::New(env, "options.rank must be an integer");
    const double alpha = numberOr(o, "alpha", 16);
    nn::LoraReport report;
    int64_t trainableParams = 0, totalParams = 0;
    guard(env, "applyLora", [&] {
      onComputeThread([&] {
        std::lock_guard<std::mutex> lock(session_->mutex);
        report = session_->applyLora(groups, static_cast<int64_t>(rank), alpha);
        trainableParams = session_->paramCount(true);
        totalParams = session_->paramCount(false);
      });
    });
    Napi::Object r = Napi::Object::New(env);
    auto adapted = Napi::Array::New(env, report.adapted.size());
    for (size_t i = 0; i < report.adapted.size(); ++i) adapted.Set(static_cast<uint32_t>(i), report.adapted[i]);
    r.Set("adapted", adapted);
    auto skipped = Napi::Array::New(env, report.skipped.size());
    for (size_t i = 0; i < report.skipped.size(); ++i) {
      Napi::Object sk = Napi::Object::New(env);
      sk.Set("name", report.skipped[i].name);
      sk.Set("reason", report.skipped[i].reason);
      skipped.Set(static_cast<uint32_t>(i), sk);
    }
    r.Set("skipped", skipped);
    r.Set("loraParams", Napi::Number::New(env, static_cast<double>(report.loraParams)));
    r.Set("trainableParams", Napi::Number::New(env, static_cast<double>(trainableParams)));
    r.Set("totalParams", Napi::Number::New(env, static_cast<double>(totalParams)));
    return r;
  }

  Napi::Value MergeLora(const Napi::CallbackInfo& info) {
    guard(info.Env(), "mergeLora", [&] {
      onComputeThread([&] {
        std::lock_guard<std::mutex> lock(session_->mutex);
        session_->mergeLora();
      });
    });
    return info.Env().Undefined();
  }

  SessionPtr session_;
};

Napi::FunctionReference* SessionWrap::ctor = nullptr;

}  // namespace

void registerLoraTest(Napi::Env env, Napi::Object exports);  // nn/lora_napi.cc

void registerSession(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", SessionWrap::Define(env));
  registerLoraTest(env, exports);  // _testLoraConv
}

}  // namespace thtl
