// Small builders shared by the model families, with torchvision's defaults.
#pragma once
#include <torch/torch.h>

#include "nn/bn_act.h"

namespace thtl::models {

inline torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                              int64_t padding = 0, bool bias = false, int64_t groups = 1,
                              int64_t dilation = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(padding)
                               .bias(bias)
                               .groups(groups)
                               .dilation(dilation));
}

using thtl::nn::Act;
using thtl::nn::bnAct;

inline torch::nn::BatchNorm2d batchNorm(int64_t channels, double eps = 1e-5, double momentum = 0.1) {
  return torch::nn::BatchNorm2d(
      torch::nn::BatchNorm2dOptions(channels).eps(eps).momentum(momentum));
}

// torchvision's CNN initialisation: conv kaiming-normal (fan_out, relu), norm 1/0.
// Linear layers keep PyTorch's default unless a family says otherwise.
void initConvAndNorm(torch::nn::Module& root);

}  // namespace thtl::models

namespace thtl::models {

// torchvision.ops.stochastic_depth(x, p, mode="row", training): drops whole samples'
// residual branches with probability p in training, scaling survivors by 1/(1-p).
torch::Tensor stochasticDepth(const torch::Tensor& x, double p, bool training);

// nn.init.trunc_normal_(t, mean, std, a, b) as PyTorch does it (inverse-CDF sampling);
// a and b are absolute bounds, as in PyTorch.
void truncNormal(torch::Tensor t, double mean, double std, double a = -2.0, double b = 2.0);

// "[1, 3, 224, 224]": a tensor's shape for error messages.
std::string shapeOf(const torch::Tensor& x);

}  // namespace thtl::models
