// The fused batch-norm loops (bn_act_kernels.inc) built with the build's own flags: the
// table every CPU can run.
#include "nn/bn_act_kernels.h"

#define THTL_BN_ISA base
#define THTL_BN_ISA_NAME "base"
#include "nn/bn_act_kernels.inc"
namespace thtl::nn::kernels {
const Table* baseTable() { return &base::kTable; }
}  // namespace thtl::nn::kernels
