// The fused batch-norm loops (bn_act_kernels.inc) built for AVX2 with FMA; CMakeLists.txt
// gives this file those flags on x86-64. Built without them, it offers no table.
#include "nn/bn_act_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
#define THTL_BN_ISA avx2
#define THTL_BN_ISA_NAME "avx2"
#include "nn/bn_act_kernels.inc"
namespace thtl::nn::kernels {
const Table* avx2Table() { return &avx2::kTable; }
}  // namespace thtl::nn::kernels
#else
namespace thtl::nn::kernels {
const Table* avx2Table() { return nullptr; }
}  // namespace thtl::nn::kernels
#endif
