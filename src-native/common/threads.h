// LibTorch's intra-op thread count. With OpenMP the count is per calling thread; the
// compute thread (napi/async.cc), the one thread that does tensor math, applies the
// configured value before each task.
#pragma once

namespace thtl {
void setTorchThreads(int n);   // n <= 0: number of cores
int torchThreads();
void applyTorchThreads();      // on the compute thread, before a task
}  // namespace thtl
