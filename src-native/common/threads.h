// LibTorch's intra-op thread count. With OpenMP the count is per calling thread, so
// every worker applies the configured value before it computes.
#pragma once

namespace thtl {
void setTorchThreads(int n);   // n <= 0: number of cores
int torchThreads();
void applyTorchThreads();      // call at the start of work on any thread
}  // namespace thtl
