// JS surface of io/: readWeights and writeSafetensors (values as float32 for
// inspection), plus a test hook that loads a file into a small built-in module.
#include <cstring>

#include "common/async.h"
#include "common/errors.h"
#include "common/register.h"
#include "io/io_internal.h"
#include "io/weights.h"

namespace thtl {

namespace {

using io::NamedTensors;

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw UserError(std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Object tensorToJs(Napi::Env env, const std::string& name, const torch::Tensor& tensor) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, name));
  o.Set("dtype", Napi::String::New(env, io::detail::dtypeName(tensor.scalar_type())));
  Napi::Array shape = Napi::Array::New(env, static_cast<size_t>(tensor.dim()));
  for (int64_t d = 0; d < tensor.dim(); ++d) {
    shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(tensor.size(d))));
  }
  o.Set("shape", shape);
  torch::Tensor f = tensor.is_complex() ? torch::real(tensor) : tensor;
  f = f.to(torch::kCPU).to(torch::kFloat).contiguous();
  const size_t n = static_cast<size_t>(f.numel());
  Napi::Float32Array data = Napi::Float32Array::New(env, n);
  if (n > 0) std::memcpy(data.Data(), f.data_ptr<float>(), n * sizeof(float));
  o.Set("data", data);
  return o;
}

Napi::Array namedTensorsToJs(Napi::Env env, const NamedTensors& tensors) {
  Napi::Array out = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), tensorToJs(env, tensors[i].first, tensors[i].second));
  }
  return out;
}

c10::ScalarType dtypeFromJs(const std::string& name, const std::string& ctx) {
  static const std::pair<const char*, c10::ScalarType> names[] = {
      {"float32", c10::kFloat}, {"float16", c10::kHalf}, {"bfloat16", c10::kBFloat16}, {"float64", c10::kDouble},
      {"int64", c10::kLong},    {"int32", c10::kInt},    {"int16", c10::kShort},       {"int8", c10::kChar},
      {"uint8", c10::kByte},    {"bool", c10::kBool},
  };
  for (const auto& [n, t] : names) {
    if (name == n) return t;
  }
  throw UserError(ctx + ": unknown dtype '" + name +
                  "' (use float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8 or bool)");
}

NamedTensors entriesFromJs(const Napi::Value& value) {
  if (!value.IsArray()) throw UserError("entries must be an array of {name, shape, data}");
  Napi::Array arr = value.As<Napi::Array>();
  NamedTensors out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string ctx = "entries[" + std::to_string(i) + "]";
    Napi::Value ev = arr.Get(i);
    if (!ev.IsObject()) throw UserError(ctx + " must be an object {name, shape, data}");
    Napi::Object e = ev.As<Napi::Object>();
    Napi::Value name = e.Get("name");
    if (!name.IsString()) throw UserError(ctx + ".name must be a string");
    Napi::Value shapeV = e.Get("shape");
    if (!shapeV.IsArray()) throw UserError(ctx + ".shape must be an array of non-negative integers");
    Napi::Array shapeA = shapeV.As<Napi::Array>();
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (uint32_t d = 0; d < shapeA.Length(); ++d) {
      Napi::Value dv = shapeA.Get(d);
      const double x = dv.IsNumber() ? dv.As<Napi::Number>().DoubleValue() : -1;
      if (!(x >= 0) || x != static_cast<double>(static_cast<int64_t>(x)) || x > 9.0e15) {
        throw UserError(ctx + ".shape must be an array of non-negative integers");
      }
      shape.push_back(static_cast<int64_t>(x));
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(x), &numel)) throw UserError(ctx + ".shape is too large");
    }
    Napi::Value dataV = e.Get("data");
    if (!dataV.IsTypedArray() || dataV.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw UserError(ctx + ".data must be a Float32Array");
    }
    Napi::Float32Array data = dataV.As<Napi::Float32Array>();
    if (data.ElementLength() != numel) {
      throw UserError(ctx + ": data has " + std::to_string(data.ElementLength()) + " values, but the shape needs " +
                      std::to_string(numel));
    }
    torch::Tensor t = torch::empty(shape, torch::kFloat);
    if (numel > 0) std::memcpy(t.data_ptr<float>(), data.Data(), numel * sizeof(float));
    Napi::Value dtypeV = e.Get("dtype");
    if (!dtypeV.IsUndefined() && !dtypeV.IsNull()) {
      if (!dtypeV.IsString()) throw UserError(ctx + ".dtype must be a string");
      t = t.to(dtypeFromJs(dtypeV.As<Napi::String>().Utf8Value(), ctx));
    }
    out.emplace_back(name.As<Napi::String>().Utf8Value(), std::move(t));
  }
  return out;
}

Napi::Value ReadWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "readWeights", [&]() -> Napi::Value {
    const std::string path = stringArg(info, 0, "path");
    return namedTensorsToJs(env, onComputeThread([&] { return io::readWeightFile(path); }));
  });
}

Napi::Value WriteSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "writeSafetensors", [&]() -> Napi::Value {
    const std::string path = stringArg(info, 0, "path");
    if (info.Length() < 2) throw UserError("entries must be an array of {name, shape, data}");
    auto entries = entriesFromJs(info[1]);
    onComputeThread([&] { io::writeSafetensors(path, entries); });
    return env.Undefined();
  });
}

// ---- test hook: a torchvision-style module (conv + bn + linear) ----
struct SmallNet : torch::nn::Module {
  explicit SmallNet(int64_t numClasses) {
    register_module("features", torch::nn::Sequential(
                                    torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).padding(1).bias(false)),
                                    torch::nn::BatchNorm2d(4), torch::nn::ReLU()));
    register_module("classifier", torch::nn::Linear(4, numClasses));
  }
};

Napi::Value TestLoadStateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "_testLoadStateDict", [&]() -> Napi::Value {
    const std::string path = stringArg(info, 0, "path");
    if (info.Length() < 2 || !info[1].IsNumber()) throw UserError("numClasses must be a number");
    const int64_t numClasses = info[1].As<Napi::Number>().Int64Value();
    if (numClasses < 1) throw UserError("numClasses must be positive");
    std::vector<std::string> skip;
    if (info.Length() > 2 && info[2].IsArray()) {
      Napi::Array a = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value v = a.Get(i);
        if (!v.IsString()) throw UserError("skipPrefixes must be strings");
        skip.push_back(v.As<Napi::String>().Utf8Value());
      }
    }
    SmallNet net(numClasses);
    NamedTensors before;
    for (const auto& [n, t] : io::stateDict(net)) before.emplace_back(n, t.clone());

    Napi::Object result = Napi::Object::New(env);
    try {
      io::LoadReport report = io::loadStateDict(net, io::readWeightFile(path), skip, path);
      Napi::Array loaded = Napi::Array::New(env, report.loaded.size());
      for (size_t i = 0; i < report.loaded.size(); ++i) loaded.Set(static_cast<uint32_t>(i), report.loaded[i]);
      Napi::Array skipped = Napi::Array::New(env, report.skipped.size());
      for (size_t i = 0; i < report.skipped.size(); ++i) skipped.Set(static_cast<uint32_t>(i), report.skipped[i]);
      result.Set("error", env.Null());
      result.Set("loaded", loaded);
      result.Set("skipped", skipped);
    } catch (const UserError& e) {
      result.Set("error", Napi::String::New(env, e.what()));
      result.Set("loaded", Napi::Array::New(env));
      result.Set("skipped", Napi::Array::New(env));
    }
    const NamedTensors after = io::stateDict(net);
    bool unchanged = after.size() == before.size();
    for (size_t i = 0; unchanged && i < after.size(); ++i) {
      unchanged = after[i].first == before[i].first && torch::equal(after[i].second, before[i].second);
    }
    result.Set("unchanged", Napi::Boolean::New(env, unchanged));
    result.Set("state", namedTensorsToJs(env, after));
    return result;
  });
}

}  // namespace

void registerWeights(Napi::Env env, Napi::Object exports) {
  exports.Set("readWeights", Napi::Function::New(env, ReadWeights, "readWeights"));
  exports.Set("writeSafetensors", Napi::Function::New(env, WriteSafetensors, "writeSafetensors"));
  exports.Set("_testLoadStateDict", Napi::Function::New(env, TestLoadStateDict, "_testLoadStateDict"));
}

}  // namespace thtl
