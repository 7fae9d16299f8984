// Test hooks, compiled only into a test build (CMake option THTL_TEST_HOOKS, which the
// project's CI turns on; a release build has none of these):
// - _testLoadStateDict: io::loadStateDict on a small torchvision-style module;
// - _testLoraConv: one Conv2d with random weights and random non-zero adapters, its
//   output three ways (refreshed weight, explicit adapter form, after merge).
// - _testNormalise: a batch normalised on the host (makeBatch's path) and on a device
//   (the GPU batch path, data::normaliseOnDevice), for bit-for-bit comparison.
// - _testBnAct: one BatchNorm2d + activation fused and unfused on random data.
// - _testFusedBn: a few training steps of a registry model twice from the same seed, with
//   the fused batch-norm kernels (nn/bn_act.h) and without, losses and gradients side by side.
// - _testSetFusedBn: the fused path on or off for the whole process (its default follows
//   the build; tests of code paths that differ switch it).
// - _testCpuBlocks: a script of large CPU tensor allocations and frees, with the CPU
//   allocator's counters and the resident set after each step.
// They run their small tensor work on the JS thread: test builds only.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <map>

#include "napi/guard.h"
#include "napi/args.h"
#include "data/images.h"
#include "io/weights.h"
#include "io/weights_napi.h"
#include "nn/lora.h"
#include "nn/bn_act.h"
#include <ATen/Parallel.h>
#include "models/model.h"
#include "common/cpu_allocator.h"
#include "common/torch_compat.h"

#include <unistd.h>

#include <cstdio>

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

// ||a - b|| / ||b|| (||a - b|| where b is zero); 0 where neither is defined, 1 where only
// one is.
double relDiff(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined() ? 0.0 : 1.0;
  const double d = (a - b).norm().item<double>(), n = b.norm().item<double>();
  return n > 0 ? d / n : d;
}

// _testBnAct({n, c, h, w, act: 'none'|'relu'|'relu6'|'silu', residual?, bf16?, channelsLast?,
//   seed?, shift?}) -> {isa, y, dx, dWeight, dBias, dResidual, runningMean, runningVar,
//   vsDouble: {fused: {y, ...}, unfused: {y, ...}}}: one BatchNorm2d (random affine
//   parameters) on random input (plus `shift`, to test a far-off mean), fused and unfused,
//   and for each result ||fused - unfused|| / ||unfused||. vsDouble holds each path's error
//   against the same layer run unfused in float64 (inputs and parameters widened exactly):
//   which of the two is nearer the true result, where they differ.
Napi::Value TestBnAct(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Args args(info, "_testBnAct");
  const Options o = args.options(0);
  const int64_t n = o.integer("n", 4, 1, 64), c = o.integer("c", 8, 1, 4096);
  const int64_t h = o.integer("h", 5, 1, 512), w = o.integer("w", 5, 1, 512);
  const std::string actName = o.string("act", "relu");
  const bool withResidual = o.boolean("residual", false), bf16 = o.boolean("bf16", false);
  const bool channelsLast = o.boolean("channelsLast", false);
  const int64_t seed = o.integer("seed", 0, 0, 1 << 30);
  const double shift = o.number("shift", 0.0);
  const nn::Act act = actName == "relu" ? nn::Act::ReLU : actName == "relu6" ? nn::Act::ReLU6 : actName == "silu" ? nn::Act::SiLU : nn::Act::None;
  return guard(env, "_testBnAct", [&]() -> Napi::Value {
    const bool before = nn::fusedBatchNorm();
    const auto format = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat;
    torch::manual_seed(seed);
    const torch::Tensor x0 = (torch::randn({n, c, h, w}) * 2 + shift).to(dtype).contiguous(format);
    const torch::Tensor r0 = (torch::randn({n, c, h, w})).to(dtype).contiguous(format);
    const torch::Tensor dy = torch::randn({n, c, h, w}).to(dtype).contiguous(format);
    const torch::Tensor gamma = torch::rand({c}) + 0.5, beta = torch::randn({c});
    struct Out { torch::Tensor y, dx, dw, db, dr, rm, rv; };
    // wide: the unfused path in float64 on the same (exactly widened) values
    auto run = [&](bool fused, bool wide = false) {
      nn::setFusedBatchNorm(fused);
      torch::nn::BatchNorm2d bn(c);
      {
        torch::NoGradGuard noGrad;
        bn->weight.copy_(gamma);
        bn->bias.copy_(beta);
      }
      if (wide) bn->to(torch::kDouble);
      bn->train();
      const auto widen = [&](const torch::Tensor& t) { return wide ? t.to(torch::kDouble) : t; };
      torch::Tensor x = widen(x0).clone().requires_grad_(true);
      torch::Tensor r = widen(r0).clone().requires_grad_(true);
      // the conv before it in the models: a fresh tensor the add and activation may overwrite
      torch::Tensor y = nn::bnAct(*bn, x * 1, act, withResidual ? r * 1 : torch::Tensor());
      y.backward(widen(dy));
      Out out{y.detach().to(torch::kDouble), x.grad().to(torch::kDouble), bn->weight.grad().to(torch::kDouble),
              bn->bias.grad().to(torch::kDouble), withResidual ? r.grad().to(torch::kDouble) : torch::Tensor(),
              bn->running_mean.to(torch::kDouble), bn->running_var.to(torch::kDouble)};
      return out;
    };
    const Out f = run(true), u = run(false), d = run(false, true);
    nn::setFusedBatchNorm(before);
    auto compare = [&](Napi::Object r, const Out& a, const Out& b) {
      r.Set("y", relDiff(a.y, b.y));
      r.Set("dx", relDiff(a.dx, b.dx));
      r.Set("dWeight", relDiff(a.dw, b.dw));
      r.Set("dBias", relDiff(a.db, b.db));
      r.Set("dResidual", relDiff(a.dr, b.dr));
      r.Set("runningMean", relDiff(a.rm, b.rm));
      r.Set("runningVar", relDiff(a.rv, b.rv));
      return r;
    };
    Napi::Object r = compare(Napi::Object::New(env), f, u);
    r.Set("isa", nn::fusedKernelIsa());
    Napi::Object vsDouble = Napi::Object::New(env);
    vsDouble.Set("fused", compare(Napi::Object::New(env), f, d));
    vsDouble.Set("unfused", compare(Napi::Object::New(env), u, d));
    r.Set("vsDouble", vsDouble);
    return r;
  });
}

// _testFusedBn({model, size, batch, steps, seed, bf16?, channelsLast?, lr?, optimizer?:
//   'sgd'|'adam', compare?: 'fused'|'threads'|'perturbed'}) -> {isa, losses: [[fused, unfused], ...],
//   gradAllRel, gradRel, gradWorst, paramRel, paramWorst, statRel}: the same model, data and
//   optimiser steps with the fused path on and off. gradAllRel is the largest, over the
//   steps, ||g_fused - g_unfused|| / ||g_unfused|| of the whole gradient; gradRel the largest
//   of one parameter's (gradWorst names it: tensors whose gradient nearly cancels, such as
//   the head's bias, show float rounding there); paramRel the same for the weights after
//   the last step, statRel for the BatchNorm running statistics. compare 'threads' runs the
//   unfused path on 1 and on 2 threads instead, 'perturbed' the unfused path on the input
//   and on the input scaled by 1 + 2^-20: how far rounding-sized differences carry.
//   compare 'double' (float32 only) judges both paths against the truth: the fields compare
//   the fused float32 run with the unfused path run in float64 (model and input widened
//   exactly), and `unfused` holds the same fields for the unfused float32 run against it.
Napi::Value TestFusedBn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Args args(info, "_testFusedBn");
  const Options o = args.options(0);
  const std::string name = o.string("model", "");
  const int64_t size = o.integer("size", 32, 8, 512), batch = o.integer("batch", 4, 2, 64);
  const int64_t steps = o.integer("steps", 5, 1, 50), seed = o.integer("seed", 0, 0, 1 << 30);
  const bool bf16 = o.boolean("bf16", false), channelsLast = o.boolean("channelsLast", false);
  const double lr = o.number("lr", 1e-2);
  const bool adam = o.string("optimizer", "sgd") == "adam";
  // 'fused': fused against unfused; 'threads': unfused on 1 thread against unfused on 2
  // (the noise floor of the unfused path itself)
  const std::string compare = o.string("compare", "fused");
  const bool threadsOnly = compare == "threads";
  // 'perturbed': unfused against unfused with the input scaled by (1 + 2^-20): how far
  // rounding-sized differences alone carry through these steps
  const bool perturbed = compare == "perturbed";
  // 'double': fused and unfused float32, each against the unfused path in float64
  const bool wideRef = compare == "double";
  if (compare != "fused" && !threadsOnly && !perturbed && !wideRef)
    throw args.rangeError("options.compare must be 'fused', 'threads', 'perturbed' or 'double', got '" + compare + "'");
  if (wideRef && bf16) throw args.rangeError("options.compare 'double' is for float32 runs, but options.bf16 is set");
  return guard(env, "_testFusedBn", [&]() -> Napi::Value {
    const bool before = nn::fusedBatchNorm();
    // Everything keyed by name: two runs are compared name by name, whatever order each
    // model lists its tensors in.
    using Named = std::map<std::string, torch::Tensor>;
    struct Run {
      std::vector<double> losses;
      std::vector<Named> grads;  // per step
      Named params, buffers;
    };
    const int threadsBefore = at::get_num_threads();
    auto run = [&](bool fused, int threads, double inputScale, bool wide = false) {
      nn::setFusedBatchNorm(fused);
      at::set_num_threads(threads);
      torch::manual_seed(seed);
      models::ModelPtr m = models::findModel(name).build(2);
      m->train();
      const auto format = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
      {
        torch::NoGradGuard noGrad;
        for (auto& p : m->parameters())
          if (p.dim() == 4) p.set_data(p.contiguous(format));
      }
      if (wide) m->to(torch::kDouble);
      torch::Tensor x = (torch::randn({batch, 3, size, size}) * inputScale).contiguous(format);
      if (wide) x = x.to(torch::kDouble);
      torch::Tensor y = torch::arange(batch, torch::kLong).remainder(2);
      std::unique_ptr<torch::optim::Optimizer> opt;
      if (adam) opt = std::make_unique<torch::optim::Adam>(m->parameters(), torch::optim::AdamOptions(lr));
      else opt = std::make_unique<torch::optim::SGD>(m->parameters(), torch::optim::SGDOptions(lr));
      Run r;
      for (int64_t s = 0; s < steps; ++s) {
        opt->zero_grad();
        const auto lossType = wide ? torch::kDouble : torch::kFloat;
        torch::Tensor loss = torch::zeros({}, lossType);
        {
          std::unique_ptr<compat::AutocastGuard> amp;
          if (bf16) amp = std::make_unique<compat::AutocastGuard>(c10::DeviceType::CPU, torch::kBFloat16);
          for (auto& [logits, w] : m->forwardTrain(x))
            loss = loss + w * torch::nn::functional::cross_entropy(logits.to(lossType), y);
        }
        loss.backward();
        r.losses.push_back(loss.item<double>());
        Named g;
        for (const auto& p : m->named_parameters())
          g[p.key()] = p.value().grad().defined() ? p.value().grad().to(torch::kDouble).clone() : torch::Tensor();
        r.grads.push_back(std::move(g));
        opt->step();
      }
      for (const auto& p : m->named_parameters()) r.params[p.key()] = p.value().detach().to(torch::kDouble);
      for (const auto& b : m->named_buffers())
        if (b.value().is_floating_point()) r.buffers[b.key()] = b.value().to(torch::kDouble);
      return r;
    };
    const int threads = std::max(1, threadsBefore);
    Run fused = threadsOnly ? run(false, 1, 1.0) : perturbed ? run(false, threads, 1.0 + std::ldexp(1.0, -20)) : run(true, threads, 1.0);
    Run plain = threadsOnly ? run(false, 2, 1.0) : run(false, threads, 1.0);
    Run wide = wideRef ? run(false, threads, 1.0, true) : Run{};
    nn::setFusedBatchNorm(before);
    at::set_num_threads(threadsBefore);
    // b's tensor of that name (the runs build the same model, so a missing name is a bug)
    auto other = [](const Named& b, const std::string& key) -> const torch::Tensor& {
      const auto it = b.find(key);
      if (it == b.end()) throw std::runtime_error("no tensor named " + key + " in the other run");
      return it->second;
    };
    // the fields of run a against run b
    auto compareRuns = [&](const Run& a, const Run& b) {
      // per step, over all parameters at once: ||g_a - g_b|| / ||g_b||
      // and which parameter's gradient contributes most to that difference (gradMost)
      double gradAllRel = 0, mostD2 = -1, gradRel = 0, paramRel = 0, statRel = 0;
      std::string gradMost, gradWorst, paramWorst;
      for (size_t s = 0; s < a.grads.size(); ++s) {
        double d2 = 0, n2 = 0;
        for (const auto& [name, ga] : a.grads[s]) {
          const torch::Tensor& gb = other(b.grads[s], name);
          const std::string where = name + " (step " + std::to_string(s + 1) + ")";
          const double v = relDiff(ga, gb);
          if (v > gradRel) gradRel = v, gradWorst = where;
          if (!ga.defined() || !gb.defined()) continue;
          const double di = (ga - gb).pow(2).sum().item<double>();
          if (di > mostD2) mostD2 = di, gradMost = where;
          d2 += di;
          n2 += gb.pow(2).sum().item<double>();
        }
        if (n2 > 0) gradAllRel = std::max(gradAllRel, std::sqrt(d2 / n2));
      }
      for (const auto& [name, pa] : a.params) {
        const double v = relDiff(pa, other(b.params, name));
        if (v > paramRel) paramRel = v, paramWorst = name;
      }
      // statAllRel: all floating-point buffers at once, as gradAllRel (one running variance
      // near zero makes statRel large for any two runs)
      double sd2 = 0, sn2 = 0;
      for (const auto& [name, ba] : a.buffers) {
        const torch::Tensor& bb = other(b.buffers, name);
        statRel = std::max(statRel, relDiff(ba, bb));
        sd2 += (ba - bb).pow(2).sum().item<double>();
        sn2 += bb.pow(2).sum().item<double>();
      }
      const double statAllRel = sn2 > 0 ? std::sqrt(sd2 / sn2) : std::sqrt(sd2);
      Napi::Object r = Napi::Object::New(env);
      auto losses = Napi::Array::New(env, a.losses.size());
      for (size_t s = 0; s < a.losses.size(); ++s) {
        auto pair = Napi::Array::New(env, 2);
        pair.Set(0u, a.losses[s]);
        pair.Set(1u, b.losses[s]);
        losses.Set(static_cast<uint32_t>(s), pair);
      }
      r.Set("losses", losses);
      r.Set("gradAllRel", gradAllRel);
      r.Set("gradRel", gradRel);
      r.Set("gradWorst", gradWorst);
      r.Set("gradMost", gradMost);
      r.Set("paramRel", paramRel);
      r.Set("paramWorst", paramWorst);
      r.Set("statRel", statRel);
      r.Set("statAllRel", statAllRel);
      return r;
    };
    Napi::Object r = compareRuns(fused, wideRef ? wide : plain);
    if (wideRef) r.Set("unfused", compareRuns(plain, wide));
    r.Set("isa", nn::fusedKernelIsa());
    return r;
  });
}

// _testSetFusedBn(on): returns the setting before.
Napi::Value TestSetFusedBn(const Napi::CallbackInfo& info) {
  const bool on = Args(info, "_testSetFusedBn").boolean(0, "on");
  const bool before = nn::fusedBatchNorm();
  nn::setFusedBatchNorm(on);
  return Napi::Boolean::New(info.Env(), before);
}

// _testCpuBlocks(ops): n > 0 allocates a uint8 tensor of n MiB and writes every byte (the
// blocks are numbered 1, 2, ... in that order); n < 0 frees block -n; 0 calls the idle
// release. After each op: the allocator's counters and the resident set in bytes.
Napi::Value TestCpuBlocks(const Napi::CallbackInfo& info) {
  const std::vector<int64_t> ops = Args(info, "_testCpuBlocks").integers(0, "ops");
  Napi::Env env = info.Env();
  return guard(env, "_testCpuBlocks", [&]() -> Napi::Value {
    std::vector<torch::Tensor> blocks;
    Napi::Array out = Napi::Array::New(env, ops.size());
    const long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < ops.size(); ++i) {
      const int64_t op = ops[i];
      if (op > 0) {
        torch::Tensor t = torch::empty({op << 20}, torch::kUInt8);
        std::memset(t.data_ptr(), 1, static_cast<size_t>(op) << 20);
        blocks.push_back(t);
      } else if (op < 0) {
        TORCH_CHECK(static_cast<size_t>(-op) <= blocks.size() && blocks[-op - 1].defined(), "_testCpuBlocks: no block ", -op);
        blocks[-op - 1] = torch::Tensor();
      } else {
        releaseCpuCache();
      }
      long size = 0, resident = 0;
      if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        std::fclose(f);
      }
      const CpuCacheStats c = cpuCacheStats();
      Napi::Object r = Napi::Object::New(env);
      r.Set("hits", static_cast<double>(c.hits));
      r.Set("misses", static_cast<double>(c.misses));
      r.Set("liveBytes", static_cast<double>(c.liveBytes));
      r.Set("cachedBytes", static_cast<double>(c.cachedBytes));
      r.Set("residentBytes", static_cast<double>(resident) * static_cast<double>(page));
      out.Set(static_cast<uint32_t>(i), r);
    }
    return out;
  });
}

}  // namespace

void registerTestHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("_testLoadStateDict", Napi::Function::New(env, TestLoadStateDict, "_testLoadStateDict"));
  exports.Set("_testLoraConv", Napi::Function::New(env, TestLoraConv, "_testLoraConv"));
  exports.Set("_testNormalise", Napi::Function::New(env, TestNormalise, "_testNormalise"));
  exports.Set("_testBnAct", Napi::Function::New(env, TestBnAct, "_testBnAct"));
  exports.Set("_testFusedBn", Napi::Function::New(env, TestFusedBn, "_testFusedBn"));
  exports.Set("_testSetFusedBn", Napi::Function::New(env, TestSetFusedBn, "_testSetFusedBn"));
  exports.Set("_testCpuBlocks", Napi::Function::New(env, TestCpuBlocks, "_testCpuBlocks"));
}

}  // namespace thtl
