// The fused batch-norm loops (bn_act_kernels.inc) built for AVX-512 (F, BW, VL, DQ) with
// FMA; CMakeLists.txt gives this file those flags on x86-64. Built without them (another
// architecture, or a compiler that lacks them), it offers no table.
#include "nn/bn_act_kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define THTL_BN_ISA avx512
#define THTL_BN_ISA_NAME "avx512"
#include "nn/bn_act_kernels.inc"
namespace thtl::nn::kernels {
const Table* avx512Table() { return &avx512::kTable; }
}  // namespace thtl::nn::kernels
#else
namespace thtl::nn::kernels {
const Table* avx512Table() { return nullptr; }
}  // namespace thtl::nn::kernels
#endif
