// JS surface of io/: readWeights and writeSafetensors (values as float32 for inspection).
#include <cstring>

#include "napi/async.h"
#include "common/errors.h"
#include "napi/args.h"
#include "napi/register.h"
#include "io/io_internal.h"
#include "io/weights.h"
#include "io/weights_napi.h"

namespace thtl {

JsTensors forJs(const io::NamedTensors& tensors) {
  JsTensors out;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor f = tensor.is_complex() ? torch::real(tensor) : tensor;
    out.values.emplace_back(name, f.to(torch::kCPU).to(torch::kFloat).contiguous());
    out.dtypes.push_back(io::detail::dtypeName(tensor.scalar_type()));
  }
  return out;
}

Napi::Array toJs(Napi::Env env, const JsTensors& tensors) {
  Napi::Array out = Napi::Array::New(env, tensors.values.size());
  for (size_t i = 0; i < tensors.values.size(); ++i) {
    const auto& [name, f] = tensors.values[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, name));
    o.Set("dtype", Napi::String::New(env, tensors.dtypes[i]));
    o.Set("shape", numberArray(env, f.sizes().vec()));
    o.Set("data", float32Array(env, f.data_ptr<float>(), static_cast<size_t>(f.numel())));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

namespace {

using io::NamedTensors;

c10::ScalarType dtypeFromJs(const Args& a, const std::string& name, const std::string& ctx) {
  static const std::pair<const char*, c10::ScalarType> names[] = {
      {"float32", c10::kFloat}, {"float16", c10::kHalf}, {"bfloat16", c10::kBFloat16}, {"float64", c10::kDouble},
      {"int64", c10::kLong},    {"int32", c10::kInt},    {"int16", c10::kShort},       {"int8", c10::kChar},
      {"uint8", c10::kByte},    {"bool", c10::kBool},
  };
  for (const auto& [n, t] : names) {
    if (name == n) return t;
  }
  throw a.rangeError(ctx + ": unknown dtype '" + name +
                     "' (use float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8 or bool)");
}

// One entry of writeSafetensors: float32 values copied from JavaScript, and the dtype to
// store them as (converted on the compute thread).
struct Entry {
  std::string name;
  torch::Tensor values;
  c10::ScalarType dtype;
};

// [{name, shape, data: Float32Array, dtype = 'float32'}] -> entries.
std::vector<Entry> entriesFromJs(const Args& a, size_t index) {
  const Napi::Value value = a[index];
  if (!value.IsArray()) throw a.typeError("entries", "an array of {name, shape, data}");
  Napi::Array arr = value.As<Napi::Array>();
  std::vector<Entry> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string ctx = "entries[" + std::to_string(i) + "]";
    Napi::Value ev = arr.Get(i);
    if (!ev.IsObject()) throw a.typeError(ctx, "an object {name, shape, data}");
    const Options e(a, ev.As<Napi::Object>(), ctx + ".");
    const std::string name = arg::string(a, e.get("name"), ctx + ".name");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    const Napi::Value shapeV = e.get("shape");
    if (!shapeV.IsArray()) throw a.typeError(ctx + ".shape", "an array of non-negative integers");
    Napi::Array shapeA = shapeV.As<Napi::Array>();
    for (uint32_t d = 0; d < shapeA.Length(); ++d) {
      const int64_t x = arg::integer(a, shapeA.Get(d), ctx + ".shape[" + std::to_string(d) + "]", 0, kMaxSafeInteger);
      shape.push_back(x);
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(x), &numel)) throw a.rangeError(ctx + ".shape is too large");
    }
    const Napi::Value dataV = e.get("data");
    if (!dataV.IsTypedArray() || dataV.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw a.typeError(ctx + ".data", "a Float32Array");
    Napi::Float32Array data = dataV.As<Napi::Float32Array>();
    if (data.ElementLength() != numel)
      throw a.rangeError(ctx + ": data has " + std::to_string(data.ElementLength()) + " values, but the shape needs " +
                         std::to_string(numel));
    const c10::ScalarType dtype = dtypeFromJs(a, e.string("dtype", "float32"), ctx);
    // Copied here, on the JS thread (the caller may change its arrays once this returns).
    torch::Tensor t = torch::empty(shape, torch::kFloat);
    if (numel > 0) std::memcpy(t.data_ptr<float>(), data.Data(), numel * sizeof(float));
    out.push_back(Entry{name, std::move(t), dtype});
  }
  return out;
}

// readWeights(path) -> Promise<[{name, dtype, shape, data: Float32Array}]>
Napi::Value ReadWeights(const Napi::CallbackInfo& info) {
  const Args a(info, "readWeights");
  const std::string path = a.string(0, "path");
  auto tensors = std::make_shared<JsTensors>();
  return AsyncTask::run(
      a.env(), a.call(), [=](Progress&) { *tensors = forJs(io::readWeightFile(path)); },
      [=](Napi::Env env) -> Napi::Value { return toJs(env, *tensors); });
}

// writeSafetensors(path, entries) -> Promise<void>; the file is written atomically.
Napi::Value WriteSafetensors(const Napi::CallbackInfo& info) {
  const Args a(info, "writeSafetensors");
  const std::string path = a.string(0, "path");
  auto entries = std::make_shared<std::vector<Entry>>(entriesFromJs(a, 1));
  return AsyncTask::run(
      a.env(), a.call(),
      [=](Progress&) {
        NamedTensors tensors;
        for (const Entry& e : *entries) tensors.emplace_back(e.name, e.values.to(e.dtype));
        io::writeSafetensors(path, tensors);
      },
      [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
}

}  // namespace

void registerWeights(Napi::Env env, Napi::Object exports) {
  exports.Set("readWeights", Napi::Function::New(env, ReadWeights, "readWeights"));
  exports.Set("writeSafetensors", Napi::Function::New(env, WriteSafetensors, "writeSafetensors"));
}

}  // namespace thtl
