// Batch-norm + activation (and batch-norm + residual add + activation) as one operation:
// torchvision's conv -> BatchNorm2d -> ReLU / ReLU6 / SiLU tails and ResNet's
// bn3 -> += identity -> ReLU.
//
// In training mode on the CPU (float32 or bfloat16, NCHW or channels_last) this runs fused
// kernels instead of LibTorch's separate batch_norm, add and activation passes:
//   forward:  one pass for the per-channel sums (mean and biased variance, accumulated in
//             double), one pass y = act((x - mean) * scale + bias (+ residual)), and LibTorch's
//             running-statistics update (momentum, unbiased variance);
//   backward: one pass for the per-channel sums of gz = dy * act'(z) and gz * x (z is
//             recomputed from x, so the activation's output is not kept), one pass for
//             dx = (gz - mean(gz) - (x - mean) * k) * gamma * invstd; with a residual and
//             an activation gz is written once in the first pass and is the residual's
//             gradient.
// Only x (and the residual, where an activation follows the add) is saved for backward.
// The loops are compiled for AVX-512, AVX2 and the baseline and chosen at run time
// (bn_act_kernels.h); at::parallel_for splits them over LibTorch's threads.
//
// Everywhere else (evaluation mode, CUDA, other dtypes, or the fused path off: see
// fusedBatchNorm) it is the module's own forward followed by the in-place add and
// activation.
#pragma once
#include <torch/torch.h>

namespace thtl::nn {

enum class Act { None, ReLU, ReLU6, SiLU };

torch::Tensor bnAct(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, Act act,
                    const torch::Tensor& residual = {});

// The fused path on or off for the whole process. On by default where its loops run on
// LibTorch's threads (fusedBatchNormThreaded); off where they would run on one thread
// beside LibTorch's many. THTL_FUSED_BN=0 turns it off, =1 on. The tests switch it to
// hold the fused path equal to the unfused one.
void setFusedBatchNorm(bool on);
bool fusedBatchNorm();

// Whether at::parallel_for splits the fused loops over LibTorch's threads in this build:
// false only with LibTorch's OpenMP backend and this file built without OpenMP (Clang).
bool fusedBatchNormThreaded();

// The instruction set of the fused loops on this CPU: "avx512", "avx2" or "base"
// (THTL_CPU_KERNELS=avx2|base forces a lower one, for tests).
const char* fusedKernelIsa();

}  // namespace thtl::nn
