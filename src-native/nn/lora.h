// LoRA adapters (low-rank updates of frozen weights) attached to an existing model
// without touching the model's code.
//
// For every adapted torch::nn::Conv2dImpl / LinearImpl, two child modules are
// registered on that module: `lora_A` and `lora_B`, so their parameters are named
// `<module>.lora_A.weight` / `<module>.lora_B.weight` and appear in named_parameters(),
// state dicts, checkpoints and the optimiser like any other parameter.
//   Conv2d (groups == 1, zeros padding): lora_A = Conv2d(in, r, base kernel, base stride,
//     base padding, base dilation, no bias), lora_B = Conv2d(r, out, 1x1, no bias).
//   Linear: lora_A = Linear(in, r, no bias), lora_B = Linear(r, out, no bias).
//   A: kaiming-uniform with a = sqrt(5); B: zeros (a fresh adapter changes nothing).
//   scaling = alpha / rank.
//
// The forward. LibTorch has no module hooks, but Conv2dImpl::forward and
// LinearImpl::forward read the public member `weight`. refresh() sets that member to
//   W' = W + scaling * delta,  delta = (B.flatten(1) @ A.flatten(1)).view_as(W)
// (conv: B [out,r,1,1], A [r,in,kh,kw] -> [out,in,kh,kw]; Linear: B @ A), while the
// registered parameter `weight` (what state dicts and the optimiser see) stays the frozen
// base W. Because a convolution is linear in its weight, and A carries the base's kernel,
// stride, padding and dilation while B is a 1x1 stride-1 conv, for an ungrouped conv
//   conv(x, W') = conv(x, W) + scaling * conv(x, B.A)
//              = conv(x, W) + scaling * B(A(x))   (exactly; no bias in A or B),
// since (B.A)[o,i,kh,kw] = sum_r B[o,r] A[r,i,kh,kw]. For Linear, likewise
// x W'^T = x W^T + scaling * B(A(x)). So the merged-weight forward is the adapter forward.
// refresh() must run under the grad mode of the forward that follows: under grad it
// builds W' with a graph back to A and B (call it again after every optimiser step);
// under NoGradGuard it yields a plain tensor.
//
// Not adapted (reported as skipped, with the reason): grouped / depthwise convolutions
// (a rank-r update of a grouped weight is not a grouped conv), convolutions with a padding
// mode other than zeros, modules already adapted, and modules under `exclude` prefixes.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace thtl::nn {

struct LoraSkip {
  std::string name;    // the module's full name ("features.1.conv.0.0")
  std::string reason;  // "grouped convolution (groups=32)"
};

struct LoraReport {
  std::vector<std::string> adapted;  // full module names, in model order
  std::vector<LoraSkip> skipped;
  int64_t loraParams = 0;  // parameters added by this attach()
};

// True for a state_dict / parameter key that belongs to an adapter.
bool isLoraKey(const std::string& key);

class LoraSet {
 public:
  // Attaches adapters to every Conv2d / Linear under `root` whose parameter keys start
  // with one of `prefixes` ("layer4." matches module "layer4.0.conv1"), except those under
  // `exclude` (reported as skipped with `excludeReason`). The adapters are created on the
  // base weight's device and dtype. Throws UserError for rank < 1 or alpha <= 0, or when
  // this set already holds adapters of another rank or alpha.
  LoraReport attach(torch::nn::Module& root, const std::vector<std::string>& prefixes, int64_t rank,
                    double alpha, const std::vector<std::string>& exclude = {},
                    const std::string& excludeReason = "excluded");

  // Sets each adapted module's member `weight` to base + scaling * delta (see above).
  // A no-op without adapters.
  void refresh();
  // Folds every adapter into its base weight (base += scaling * delta, without grad),
  // unregisters lora_A / lora_B and points the member `weight` back at the registered
  // parameter. Afterwards the module's state dict keys are the plain model's again.
  void merge();

  // A copy of `state` (a stateDict() of the root) with the adapter keys removed and each
  // adapted weight replaced by base + scaling * delta; `state` itself is not modified.
  std::vector<std::pair<std::string, torch::Tensor>> mergedState(
      const std::vector<std::pair<std::string, torch::Tensor>>& state) const;

  bool empty() const { return adapters_.empty(); }
  size_t size() const { return adapters_.size(); }
  int64_t rank() const { return rank_; }
  double alpha() const { return alpha_; }
  double scaling() const { return alpha_ / static_cast<double>(rank_); }
  std::vector<std::string> moduleNames() const;
  std::vector<torch::Tensor> parameters() const;  // every lora_A / lora_B weight
  int64_t parameterCount() const;

 private:
  struct Adapter {
    std::string name;                         // full module name
    std::shared_ptr<torch::nn::Module> module;  // keeps the adapted module alive
    torch::nn::Conv2dImpl* conv = nullptr;    // exactly one of conv / linear
    torch::nn::LinearImpl* linear = nullptr;
    torch::Tensor base;                       // the registered parameter `weight`
    torch::Tensor a, b;                       // lora_A.weight, lora_B.weight
  };
  torch::Tensor delta(const Adapter& ad) const;  // scaling * (B.A) shaped like base
  void setMemberWeight(Adapter& ad, const torch::Tensor& w);

  std::vector<Adapter> adapters_;
  int64_t rank_ = 0;
  double alpha_ = 0;
};

}  // namespace thtl::nn
