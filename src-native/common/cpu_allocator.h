// The allocator behind every CPU tensor the addon's LibTorch creates (see cpu_allocator.cc).
#pragma once

#include <cstddef>
#include <string>

namespace thtl {

struct CpuCacheStats {
  std::size_t cachedBytes = 0;  // freed blocks kept for reuse
  std::size_t cachedBlocks = 0;
  std::size_t hits = 0;         // allocations served from the cache
  std::size_t misses = 0;       // large allocations that went to the system
};

// Registers the caching allocator for CPU tensors, once per process. With
// THTL_CPU_ALLOCATOR=default in the environment LibTorch's own allocator stays (for
// side-by-side measurements only).
void installCpuAllocator();
std::string cpuAllocatorName();  // "caching" or "default"
CpuCacheStats cpuCacheStats();
// Hands every cached block back to the system. The compute thread calls it when it has
// been idle for a while, so a finished run does not keep its peak memory.
void releaseCpuCache();

}  // namespace thtl
