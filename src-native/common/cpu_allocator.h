// The allocator behind every CPU tensor the addon's LibTorch creates (see cpu_allocator.cc).
#pragma once

#include <cstddef>
#include <string>

namespace thtl {

// Large blocks only (128 KiB and up; sizes in whole pages).
struct CpuCacheStats {
  std::size_t cachedBytes = 0;    // freed memory kept for reuse (resident, or may be)
  std::size_t cachedBlocks = 0;   // in that many free ranges
  std::size_t hits = 0;           // blocks carved out of memory the allocator already held
  std::size_t misses = 0;         // blocks for which it mapped a new chunk
  std::size_t liveBytes = 0;      // in use by tensors now
  std::size_t peakLiveBytes = 0;  // the most in use at once
  std::size_t peakHeldBytes = 0;  // the most held at once: in use + cached
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
