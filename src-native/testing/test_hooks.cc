// Test hooks, compiled only into a test build (CMake option THTL_TEST_HOOKS, which the
// project's CI turns on; a release build has none of these):
// - _testLoadStateDict: io::loadStateDict on a small torchvision-style module;
// - _testLoraConv: one Conv2d with random weights and random non-zero adapters, its
//   output three ways (refreshed weight, explicit adapter form, after merge).
// - _testNormalise: a batch normalised on the host (makeBatch's path) and on a device
//   (the GPU batch path, data::normaliseOnDevice), for bit-for-bit comparison.
// They run their small tensor work on the JS thread: test builds only.
#include <napi.h>

#include <cmath>
#include <cstring>

#include "napi/guard.h"
#include "napi/args.h"
#include "data/images.h"
#include "io/weights.h"
#include "io/weights_napi.h"
#include "nn/lora.h"

namespace thtl {
namespace {

// _testLoadStateDict(path, numClasses, skipPrefixes?): loads a weight file into a small
// torchvision-style module (conv + bn + linear) and reports what happened.
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
  const Args args(info, "_testLoadStateDict");
  const std::string path = args.string(0, "path");
  const int64_t numClasses = args.integer(1, "numClasses", 1, 1000);
  const std::vector<std::string> skip = args.has(2) ? args.strings(2, "skipPrefixes") : std::vector<std::string>{};
  return guard(env, "_testLoadStateDict", [&]() -> Napi::Value {
    SmallNet net(numClasses);
    io::NamedTensors before;
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
    const io::NamedTensors after = io::stateDict(net);
    bool unchanged = after.size() == before.size();
    for (size_t i = 0; unchanged && i < after.size(); ++i) {
      unchanged = after[i].first == before[i].first && torch::equal(after[i].second, before[i].second);
    }
    result.Set("unchanged", Napi::Boolean::New(env, unchanged));
    result.Set("state", toJs(env, forJs(after)));
    return result;
  });
}


struct OneConv : torch::nn::Module {
  explicit OneConv(const torch::nn::Conv2dOptions& o) { conv = register_module("conv", torch::nn::Conv2d(o)); }
  torch::nn::Conv2d conv{nullptr};
};

Napi::Float32Array floatsToJs(Napi::Env env, const torch::Tensor& t) {
  torch::Tensor f = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(f.numel()));
  if (f.numel() > 0) std::memcpy(out.Data(), f.data_ptr<float>(), static_cast<size_t>(f.numel()) * sizeof(float));
  return out;
}

// _testLoraConv({inChannels, outChannels, kernel, stride, padding, dilation, groups, rank,
//   alpha, seed, size?, bias?}) -> {viaDelta, viaAdapters, merged, base, keys}
Napi::Value TestLoraConv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Args args(info, "_testLoraConv");
  const Options o = args.options(0);
  auto small = [&](const char* key, int64_t fallback) { return o.integer(key, fallback, 0, 4096); };
  const int64_t in = small("inChannels", 4), out = small("outChannels", 6);
  const int64_t kernel = small("kernel", 3), stride = small("stride", 1);
  const int64_t padding = small("padding", 0), dilation = small("dilation", 1);
  const int64_t groups = small("groups", 1), rank = small("rank", 8);
  const int64_t seed = small("seed", 0), size = small("size", 11);
  const double alpha = o.number("alpha", 16.0);
  const bool bias = o.boolean("bias", true);
  return guard(env, "_testLoraConv", [&]() -> Napi::Value {

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
    r.Set("viaDelta", floatsToJs(env, viaDelta));
    r.Set("viaAdapters", floatsToJs(env, viaAdapters));
    r.Set("merged", floatsToJs(env, merged));
    r.Set("base", floatsToJs(env, plain));
    auto keys = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& p : root.named_parameters()) keys.Set(i++, p.key());
    r.Set("keys", keys);
    return r;
  });
}

// _testNormalise({count, size, seed, augment?, mean?: [3], std?: [3], device?}) ->
//   {host, device, flips}: random pixels, flips drawn as a training batch draws them, and
//   the batch normalised both ways (the device result copied back).
Napi::Value TestNormalise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Args args(info, "_testNormalise");
  const Options o = args.options(0);
  const int64_t count = o.integer("count", 4, 1, 256), size = o.integer("size", 8, 1, 512);
  const auto seed = static_cast<uint64_t>(o.integer("seed", 0, 0, 1 << 30));
  const bool augment = o.boolean("augment", true);
  const std::string device = o.string("device", "cpu");
  data::Normalisation norm;
  auto three = [&](const char* key, std::array<double, 3>& into) {
    if (!o.has(key)) return;
    if (!o.get(key).IsArray() || o.get(key).As<Napi::Array>().Length() != 3)
      throw args.typeError(std::string("options.") + key, "3 numbers");
    Napi::Array a = o.get(key).As<Napi::Array>();
    for (uint32_t i = 0; i < 3; ++i) into[i] = arg::number(args, a.Get(i), key);
  };
  three("mean", norm.mean);
  three("std", norm.std);
  return guard(env, "_testNormalise", [&]() -> Napi::Value {
    torch::manual_seed(seed);
    data::ImageCache cache;
    cache.size = size;
    cache.pixels = torch::randint(0, 256, {count, 3, size, size}, torch::kUInt8);
    std::vector<int64_t> indices(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = count - 1 - i;  // not in order
    std::mt19937_64 rng(seed);
    const std::vector<uint8_t> flips = data::drawFlips(indices.size(), augment, rng);
    torch::Tensor host = data::batchWithFlips(cache, indices, flips, norm);
    torch::Tensor picked = cache.pixels.index_select(0, torch::tensor(indices, torch::kLong));
    torch::Tensor onDevice = data::normaliseOnDevice(picked.to(torch::Device(device)), flips, norm);
    Napi::Object r = Napi::Object::New(env);
    r.Set("host", floatsToJs(env, host));
    r.Set("device", floatsToJs(env, onDevice));
    auto f = Napi::Array::New(env, flips.size());
    for (size_t i = 0; i < flips.size(); ++i) f.Set(static_cast<uint32_t>(i), Napi::Boolean::New(env, flips[i] != 0));
    r.Set("flips", f);
    return r;
  });
}

}  // namespace

void registerTestHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("_testLoadStateDict", Napi::Function::New(env, TestLoadStateDict, "_testLoadStateDict"));
  exports.Set("_testLoraConv", Napi::Function::New(env, TestLoraConv, "_testLoraConv"));
  exports.Set("_testNormalise", Napi::Function::New(env, TestNormalise, "_testNormalise"));
}

}  // namespace thtl
