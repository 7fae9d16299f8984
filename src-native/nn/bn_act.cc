#include "nn/bn_act.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "common/env.h"
#include "nn/bn_act_kernels.h"

namespace thtl::nn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::atomic<int> gFused{-1};  // -1: not decided yet (THTL_FUSED_BN)

const kernels::Table& table() {
  static const kernels::Table* chosen = [] {
    const char* want = std::getenv("THTL_CPU_KERNELS");
    const std::string forced = want ? want : "";
    bool avx512 = false, avx2 = false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    if (forced == "base") avx512 = avx2 = false;
    if (forced == "avx2") avx512 = false;
    if (avx512 && kernels::avx512Table()) return kernels::avx512Table();
    if (avx2 && kernels::avx2Table()) return kernels::avx2Table();
    return kernels::baseTable();
  }();
  return *chosen;
}

// Elements per chunk of at::parallel_for (LibTorch's own grain for elementwise loops).
constexpr int64_t kGrain = 32768;

struct Layout {
  kernels::Geometry g;
  at::MemoryFormat format;
};

Layout layoutOf(const torch::Tensor& x) {
  Layout l;
  l.g.n = x.size(0);
  l.g.c = x.size(1);
  l.g.hw = x.size(2) * x.size(3);
  l.g.bf16 = x.scalar_type() == torch::kBFloat16;
  // A tensor dense both ways (H = W = 1) counts as NCHW.
  l.g.channelsLast = !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
  l.format = l.g.channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  return l;
}

// Per-channel sums over the batch and the pixels: `part(begin, end, a, b)` fills a[c], b[c]
// for channels [begin, end) (NCHW) or adds rows [begin, end) into a, b (channels_last;
// one zeroed pair of buffers per thread, added up at the end).
template <typename Part>
void channelSums(const kernels::Geometry& g, std::vector<double>& a, std::vector<double>& b, const Part& part) {
  const int64_t c = g.c;
  a.assign(c, 0.0);
  b.assign(c, 0.0);
  if (!g.channelsLast) {
    at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) { part(begin, end, a.data(), b.data()); });
    return;
  }
  const int threads = std::max(1, at::get_num_threads());
  std::vector<double> local(static_cast<size_t>(threads) * 2 * c, 0.0);
  at::parallel_for(0, g.n * g.hw, std::max<int64_t>(1, kGrain / c), [&](int64_t begin, int64_t end) {
    const int t = at::get_thread_num();
    TORCH_CHECK(t >= 0 && t < threads, "fused batch norm: thread ", t, " of ", threads);
    double* mine = local.data() + static_cast<size_t>(t) * 2 * c;
    part(begin, end, mine, mine + c);
  });
  for (int t = 0; t < threads; ++t) {
    const double* mine = local.data() + static_cast<size_t>(t) * 2 * c;
    for (int64_t i = 0; i < c; ++i) {
      a[i] += mine[i];
      b[i] += mine[c + i];
    }
  }
}

// `body(begin, end)` over NCHW planes or channels_last rows, in chunks of about kGrain.
template <typename Body>
void elementwise(const kernels::Geometry& g, const Body& body) {
  if (!g.channelsLast) {
    at::parallel_for(0, g.n * g.c, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, g.hw)), body);
  } else {
    at::parallel_for(0, g.n * g.hw, std::max<int64_t>(1, kGrain / g.c), body);
  }
}

std::vector<float> floats(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

torch::Tensor tensorOf(const std::vector<double>& v, torch::Dtype dtype) {
  return torch::tensor(at::ArrayRef<double>(v), torch::kDouble).to(dtype);
}

std::vector<double> doubles(const torch::Tensor& t) {
  const auto c = t.to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// The forward of both autograd functions; `residual` may be undefined.
torch::Tensor forwardImpl(AutogradContext* ctx, const torch::Tensor& xIn, const torch::Tensor& weight,
                          const torch::Tensor& bias, const torch::Tensor& residualIn, torch::Tensor runningMean,
                          torch::Tensor runningVar, double factor, double eps, int64_t act) {
  const Layout l = layoutOf(xIn);
  const kernels::Geometry& g = l.g;
  const torch::Tensor x = xIn.contiguous(l.format);
  const torch::Tensor residual = residualIn.defined() ? residualIn.contiguous(l.format) : residualIn;
  const kernels::Table& k = table();

  // Sums taken about the first pixel of the first image, per channel: near the mean, so
  // the squares keep their precision.
  const std::vector<float> ref = floats(x.select(0, 0).select(1, 0).select(1, 0));
  std::vector<double> sum, sumsq;
  channelSums(g, sum, sumsq, [&](int64_t b, int64_t e, double* s, double* ss) {
    k.stats(x.data_ptr(), g, b, e, ref.data(), s, ss);
  });
  const double count = static_cast<double>(g.n * g.hw);
  std::vector<double> mean(g.c), var(g.c), invstd(g.c);
  for (int64_t c = 0; c < g.c; ++c) {
    const double d = sum[c] / count;
    mean[c] = ref[c] + d;
    var[c] = std::max(0.0, sumsq[c] / count - d * d);
    invstd[c] = 1.0 / std::sqrt(var[c] + eps);
  }
  // z = (x - mean) * scale + bias, the mean in float: the same z backward recomputes
  const std::vector<float> w = floats(weight), shift = floats(bias);
  std::vector<float> scale(g.c), meanF(g.c);
  for (int64_t c = 0; c < g.c; ++c) {
    scale[c] = static_cast<float>(invstd[c]) * w[c];
    meanF[c] = static_cast<float>(mean[c]);
  }
  torch::Tensor y = torch::empty_like(x, x.options(), l.format);
  const void* res = residual.defined() ? residual.data_ptr() : nullptr;
  elementwise(g, [&](int64_t b, int64_t e) {
    k.forward(x.data_ptr(), res, y.data_ptr(), static_cast<int>(act), g, b, e, scale.data(), shift.data(),
              meanF.data());
  });

  if (runningMean.defined()) {
    torch::NoGradGuard noGrad;
    std::vector<double> unbiased(var);
    for (auto& v : unbiased) v *= count / std::max(1.0, count - 1.0);
    runningMean.mul_(1.0 - factor).add_(tensorOf(mean, runningMean.scalar_type()), factor);
    runningVar.mul_(1.0 - factor).add_(tensorOf(unbiased, runningVar.scalar_type()), factor);
  }

  // Only what backward reads: x, the residual where the activation's mask depends on it,
  // and per-channel vectors.
  const bool keepResidual = residual.defined() && act != kernels::kActNone;
  ctx->save_for_backward({x, keepResidual ? residual : torch::Tensor()});
  ctx->saved_data["mean"] = tensorOf(mean, torch::kDouble);
  ctx->saved_data["invstd"] = tensorOf(invstd, torch::kDouble);
  ctx->saved_data["weight"] = torch::tensor(at::ArrayRef<float>(w));
  ctx->saved_data["scale"] = torch::tensor(at::ArrayRef<float>(scale));
  ctx->saved_data["shift"] = torch::tensor(at::ArrayRef<float>(shift));
  ctx->saved_data["act"] = act;
  ctx->saved_data["residual"] = residual.defined();
  return y;
}

// Gradients of x, weight, bias and (when there is one) the residual.
variable_list backwardImpl(AutogradContext* ctx, const torch::Tensor& dyIn) {
  const auto saved = ctx->get_saved_variables();
  const torch::Tensor& x = saved[0];
  const torch::Tensor& residual = saved[1];
  const bool hasResidual = ctx->saved_data["residual"].toBool();
  const int act = static_cast<int>(ctx->saved_data["act"].toInt());
  const Layout l = layoutOf(x);
  const kernels::Geometry& g = l.g;
  const torch::Tensor dy = dyIn.to(x.scalar_type()).contiguous(l.format);
  const kernels::Table& k = table();
  const std::vector<double> mean = doubles(ctx->saved_data["mean"].toTensor());
  const std::vector<double> invstd = doubles(ctx->saved_data["invstd"].toTensor());
  const std::vector<float> w = floats(ctx->saved_data["weight"].toTensor());
  const std::vector<float> scale = floats(ctx->saved_data["scale"].toTensor());
  const std::vector<float> shift = floats(ctx->saved_data["shift"].toTensor());
  const void* res = residual.defined() ? residual.data_ptr() : nullptr;

  // gz = dy * act'(z), written once here where something else reads it: with a residual and
  // an activation it is the residual's gradient; with the SiLU the dx pass reads it back
  // rather than recompute the SiLU's exponential (ReLU's mask is cheaper to recompute
  // than a tensor is to write and read).
  std::vector<float> meanF(g.c);
  for (int64_t c = 0; c < g.c; ++c) meanF[c] = static_cast<float>(mean[c]);
  const bool keepGz = act != kernels::kActNone && (hasResidual || act == kernels::kActSilu);
  torch::Tensor gz = keepGz ? torch::empty_like(x, x.options(), l.format) : torch::Tensor();
  void* gzOut = gz.defined() ? gz.data_ptr() : nullptr;
  std::vector<double> sumG, sumGX;
  channelSums(g, sumG, sumGX, [&](int64_t b, int64_t e, double* s, double* sx) {
    k.backwardSums(dy.data_ptr(), x.data_ptr(), res, gzOut, act, g, b, e, scale.data(), shift.data(), meanF.data(), s,
                   sx);
  });
  const double count = static_cast<double>(g.n * g.hw);
  std::vector<double> dWeight(g.c), dBias(g.c);
  std::vector<float> meanG(g.c), kk(g.c), a(g.c);
  for (int64_t c = 0; c < g.c; ++c) {
    // sum of gz * (x - mean), with the float mean the dx pass subtracts too
    const double centred = sumGX[c] - (static_cast<double>(meanF[c]) - mean[c]) * sumG[c];
    dWeight[c] = centred * invstd[c];
    dBias[c] = sumG[c];
    meanG[c] = static_cast<float>(sumG[c] / count);
    kk[c] = static_cast<float>(centred / count * invstd[c] * invstd[c]);
    a[c] = static_cast<float>(invstd[c]) * w[c];
  }
  torch::Tensor dx;
  if (ctx->needs_input_grad(0)) {
    dx = torch::empty_like(x, x.options(), l.format);
    const bool ready = gz.defined() || act == kernels::kActNone;
    const void* src = gz.defined() ? gz.data_ptr() : dy.data_ptr();
    elementwise(g, [&](int64_t b, int64_t e) {
      k.backwardDx(src, ready, x.data_ptr(), res, dx.data_ptr(), act, g, b, e, scale.data(), shift.data(),
                   meanF.data(), meanG.data(), kk.data(), a.data());
    });
  }
  torch::Tensor dResidual;
  if (hasResidual) dResidual = act == kernels::kActNone ? dy : gz;
  return {dx, tensorOf(dWeight, torch::kFloat), tensorOf(dBias, torch::kFloat), dResidual};
}

struct BnActFunction : public torch::autograd::Function<BnActFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, torch::Tensor runningMean, torch::Tensor runningVar,
                               double factor, double eps, int64_t act) {
    return forwardImpl(ctx, x, weight, bias, torch::Tensor(), runningMean, runningVar, factor, eps, act);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto g = backwardImpl(ctx, grads[0]);
    return {g[0], g[1], g[2], torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

struct BnAddActFunction : public torch::autograd::Function<BnAddActFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& residual, torch::Tensor runningMean,
                               torch::Tensor runningVar, double factor, double eps, int64_t act) {
    return forwardImpl(ctx, x, weight, bias, residual, runningMean, runningVar, factor, eps, act);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto g = backwardImpl(ctx, grads[0]);
    return {g[0], g[1], g[2], g[3], torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

int kindOf(Act act) {
  switch (act) {
    case Act::ReLU: return kernels::kActRelu;
    case Act::ReLU6: return kernels::kActRelu6;
    case Act::SiLU: return kernels::kActSilu;
    default: return kernels::kActNone;
  }
}

bool fusable(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual) {
  if (!fusedBatchNorm() || !bn.is_training() || !bn.options.affine() || !bn.options.track_running_stats()) return false;
  if (!x.defined() || !x.device().is_cpu() || x.dim() != 4 || x.is_quantized()) return false;
  if (x.scalar_type() != torch::kFloat && x.scalar_type() != torch::kBFloat16) return false;
  if (x.size(1) != bn.options.num_features() || x.size(0) * x.size(2) * x.size(3) < 2) return false;  // LibTorch's error
  if (bn.weight.scalar_type() != torch::kFloat || bn.bias.scalar_type() != torch::kFloat) return false;
  if (!bn.running_mean.defined() || bn.running_mean.scalar_type() != torch::kFloat) return false;
  if (residual.defined() && (residual.sizes() != x.sizes() || residual.scalar_type() != x.scalar_type() ||
                             !residual.device().is_cpu()))
    return false;
  return true;
}

torch::Tensor unfused(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, Act act, const torch::Tensor& residual) {
  // In place where torchvision's `+= identity` and ReLU(inplace=True) are: the norm's output
  // is fresh and its backward does not need it.
  torch::Tensor y = bn.forward(x);
  if (residual.defined()) y.add_(residual);
  switch (act) {
    case Act::ReLU: return y.relu_();
    case Act::ReLU6: return torch::hardtanh_(y, 0.0, 6.0);
    case Act::SiLU: return torch::silu_(y);
    default: return y;
  }
}

}  // namespace

torch::Tensor bnAct(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, Act act, const torch::Tensor& residual) {
  if (!fusable(bn, x, residual)) return unfused(bn, x, act, residual);
  // LibTorch's BatchNorm forward: count the batch, momentum (or the cumulative average).
  double factor = bn.options.momentum().value_or(0.0);
  if (bn.num_batches_tracked.defined()) {
    torch::NoGradGuard noGrad;
    bn.num_batches_tracked += 1;
    if (!bn.options.momentum()) factor = 1.0 / bn.num_batches_tracked.item<double>();
  }
  const double eps = bn.options.eps();
  if (residual.defined()) {
    return BnAddActFunction::apply(x, bn.weight, bn.bias, residual, bn.running_mean, bn.running_var, factor, eps,
                                   kindOf(act));
  }
  return BnActFunction::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, factor, eps, kindOf(act));
}

void setFusedBatchNorm(bool on) { gFused.store(on ? 1 : 0); }

bool fusedBatchNormThreaded() {
  // at::parallel_for is inline: with LibTorch's OpenMP backend it splits work only in code
  // compiled with OpenMP (CMake adds -fopenmp to this file where it can); with LibTorch's
  // native thread pool it calls into the library and always splits.
#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
  return false;
#else
  return true;
#endif
}

bool fusedBatchNorm() {
  int v = gFused.load();
  if (v < 0) {
    // On by default where its loops run on LibTorch's threads: there it is faster than
    // LibTorch's separate kernels and keeps fewer activations (docs/BENCHMARKS.md). On one
    // thread, where LibTorch's kernels would use several, it would be slower: off.
    // THTL_FUSED_BN=0 / =1 override the choice.
    v = envSwitch("THTL_FUSED_BN").value_or(fusedBatchNormThreaded()) ? 1 : 0;
    gFused.store(v);
  }
  return v == 1;
}

const char* fusedKernelIsa() { return table().isa; }

}  // namespace thtl::nn
