// models(): the registry table, for `thtl-native models` and the TypeScript layer.
#include "napi/register.h"
#include "models/model.h"

namespace thtl {
namespace {

Napi::Array strings(Napi::Env env, const std::vector<std::string>& v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
  return a;
}

Napi::Value Models(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& table = models::registry();
  auto out = Napi::Array::New(env, table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& m = table[i].info;
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", m.name);
    o.Set("inputSize", Napi::Number::New(env, static_cast<double>(m.inputSize)));
    o.Set("fixedInputSize", Napi::Boolean::New(env, m.fixedInputSize));
    o.Set("transformer", Napi::Boolean::New(env, m.transformer));
    o.Set("bf16NeedsLibTorch2", Napi::Boolean::New(env, m.bf16NeedsLibTorch2));
    o.Set("defaultLr", Napi::Number::New(env, m.defaultLr));
    o.Set("headPrefixes", strings(env, m.headPrefixes));
    auto groups = Napi::Array::New(env, m.groups.size());
    for (size_t g = 0; g < m.groups.size(); ++g) {
      Napi::Object go = Napi::Object::New(env);
      go.Set("name", m.groups[g].name);
      go.Set("prefixes", strings(env, m.groups[g].prefixes));
      groups.Set(static_cast<uint32_t>(g), go);
    }
    o.Set("groups", groups);
    o.Set("camLayers", strings(env, m.camLayers));
    o.Set("params", Napi::Number::New(env, static_cast<double>(m.imagenetParams)));
    o.Set("imagenetWeights", m.imagenetWeights);
    auto mean = Napi::Array::New(env, 3), sd = Napi::Array::New(env, 3);
    for (uint32_t c = 0; c < 3; ++c) {
      mean.Set(c, Napi::Number::New(env, m.mean[c]));
      sd.Set(c, Napi::Number::New(env, m.std[c]));
    }
    o.Set("mean", mean);
    o.Set("std", sd);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace

void registerModels(Napi::Env env, Napi::Object exports) {
  exports.Set("models", Napi::Function::New(env, Models, "models"));
}

}  // namespace thtl
