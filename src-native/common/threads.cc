#include "common/threads.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <thread>

namespace thtl {
namespace {
int cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}
std::atomic<int> configured{0};
}  // namespace

// Only recorded here: the compute thread applies it before each task (see async.cc), so
// the JS thread never sets up LibTorch's thread pools.
void setTorchThreads(int n) { configured = n > 0 ? n : cores(); }

int torchThreads() {
  int n = configured.load();
  return n > 0 ? n : cores();
}

void applyTorchThreads() {
  const int n = torchThreads();
  if (at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace thtl
