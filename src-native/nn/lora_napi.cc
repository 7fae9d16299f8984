// Test hook for nn/lora: one Conv2d with random weights and random non-zero adapters,
// its output three ways (refreshed weight, explicit adapter form, after merge).
// Registered from registerSession (train/session_napi.cc).
#include <napi.h>

#include <cmath>
#include <cstring>

#include "common/errors.h"
#include "nn/lora.h"

namespace thtl {
namespace {

struct OneConv : torch::nn::Module {
  explicit OneConv(const torch::nn::Conv2dOptions& o) { conv = register_module("conv", torch::nn::Conv2d(o)); }
  torch::nn::Conv2d conv{nullptr};
};

int64_t intOr(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw UserError(std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw UserError(std::string(key) + " must be an integer");
  return static_cast<int64_t>(d);
}

Napi::Float32Array toJs(Napi::Env env, const torch::Tensor& t) {
  torch::Tensor f = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(f.numel()));
  if (f.numel() > 0) std::memcpy(out.Data(), f.data_ptr<float>(), static_cast<size_t>(f.numel()) * sizeof(float));
  return out;
}

// _testLoraConv({inChannels, outChannels, kernel, stride, padding, dilation, groups, rank,
//   alpha, seed, size?, bias?}) -> {viaDelta, viaAdapters, merged, base, keys}
Napi::Value TestLoraConv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "_testLoraConv", [&]() -> Napi::Value {
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    const int64_t in = intOr(o, "inChannels", 4), out = intOr(o, "outChannels", 6);
    const int64_t kernel = intOr(o, "kernel", 3), stride = intOr(o, "stride", 1);
    const int64_t padding = intOr(o, "padding", 0), dilation = intOr(o, "dilation", 1);
    const int64_t groups = intOr(o, "groups", 1), rank = intOr(o, "rank", 8);
    const int64_t seed = intOr(o, "seed", 0), size = intOr(o, "size", 11);
    Napi::Value alphaV = o.Get("alpha");
    const double alpha = alphaV.IsNumber() ? alphaV.As<Napi::Number>().DoubleValue() : 16.0;
    const bool bias = !o.Get("bias").IsBoolean() || o.Get("bias").As<Napi::Boolean>().Value();

    torch::manual_seed(static_cast<uint64_t>(seed));
    OneConv root(torch::nn::Conv2dOptions(in, out, kernel)
                     .stride(stride)
                     .padding(padding)
                     .dilation(dilation)
                     .groups(groups)
                     .bias(bias));
    auto conv = root.conv;
    {
      // Outputs of order one, so that float32 rounding stays far below the 1e-5 the
      // test allows: weights ~ U(+-1/sqrt(fan_in)) (LibTorch's default), random bias.
      torch::NoGradGuard noGrad;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in / groups * kernel * kernel));
      conv->weight.uniform_(-bound, bound);
      if (conv->bias.defined()) conv->bias.uniform_(-1.0, 1.0);
    }
    nn::LoraSet set;
    const nn::LoraReport report = set.attach(root, {"conv."}, rank, alpha);
    if (report.adapted.empty())
      throw UserError("cannot adapt conv: " + (report.skipped.empty() ? std::string("not matched")
                                                                       : report.skipped.front().reason));
    auto params = root.named_parameters();
    torch::Tensor base = params["conv.weight"];
    torch::NoGradGuard noGrad;
    params["conv.lora_A.weight"].normal_().mul_(0.1);
    params["conv.lora_B.weight"].normal_().mul_(0.1);
    torch::Tensor x = torch::randn({2, in, size, size});

    set.refresh();
    torch::Tensor viaDelta = conv->forward(x);

    auto children = conv->named_children();
    auto* a = children["lora_A"]->as<torch::nn::Conv2d>();
    auto* b = children["lora_B"]->as<torch::nn::Conv2d>();
    namespace F = torch::nn::functional;
    auto fo = F::Conv2dFuncOptions().stride(stride).padding(padding).dilation(dilation).groups(groups);
    if (conv->bias.defined()) fo = fo.bias(conv->bias);
    torch::Tensor plain = F::conv2d(x, base, fo);
    torch::Tensor viaAdapters = plain + set.scaling() * b->forward(a->forward(x));

    set.merge();
    torch::Tensor merged = conv->forward(x);

    Napi::Object r = Napi::Object::New(env);
    r.Set("viaDelta", toJs(env, viaDelta));
    r.Set("viaAdapters", toJs(env, viaAdapters));
    r.Set("merged", toJs(env, merged));
    r.Set("base", toJs(env, plain));
    auto keys = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& p : root.named_parameters()) keys.Set(i++, p.key());
    r.Set("keys", keys);
    return r;
  });
}

}  // namespace

void registerLoraTest(Napi::Env env, Napi::Object exports) {
  exports.Set("_testLoraConv", Napi::Function::New(env, TestLoraConv, "_testLoraConv"));
}

}  // namespace thtl
