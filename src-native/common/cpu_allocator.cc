#include "common/cpu_allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "common/torch_compat.h"

namespace thtl {
namespace {

// Why the addon has its own CPU allocator. A training step allocates the same large
// activations and gradients every step and frees them by its end. Through malloc, blocks
// of that size are mmap'ed fresh or trimmed back to the system when freed, so every step
// faults in and zeroes the same pages again (a kernel cost both the addon and a Python
// training loop pay). The addon's tensor work also runs on one compute thread (async.cc),
// whose allocations go to a glibc thread arena (heaps of at most 64 MB, trimmed with
// madvise) rather than the main arena a Python loop uses, which made that cost larger for
// the addon. Keeping freed large blocks for the next step of the same shape removes the
// work. The cache is bounded (a quarter of physical memory) and is handed back whenever
// the compute thread has been idle for a few seconds.
constexpr std::size_t kAlignment = 64;             // c10's alignment for CPU tensors
constexpr std::size_t kMinCached = 128 * 1024;     // malloc's own heap serves smaller blocks well
constexpr std::size_t kPage = 4096;

std::size_t physicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(size)
                               : std::size_t{8} << 30;
}

void freeSmall(void* p) { std::free(p); }

class CachingCpuAllocator final : public compat::AllocatorBase {
 public:
  static CachingCpuAllocator& get() {
    // Never destroyed: tensors can still be freed while the process exits.
    static CachingCpuAllocator* a = new CachingCpuAllocator();
    return *a;
  }

  c10::DataPtr allocateBytes(std::size_t n) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &freeSmall, cpu};
    if (n < kMinCached) {
      void* p = alignedOrThrow(n);
      return {p, p, &freeSmall, cpu};
    }
    const std::size_t size = (n + kPage - 1) / kPage * kPage;
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Best fit among cached blocks at most 1/8 larger than asked for.
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= size + size / 8) {
        p = it->second;
        live_[p] = it->first;
        stats_.cachedBytes -= it->first;
        stats_.cachedBlocks--;
        stats_.hits++;
        free_.erase(it);
      } else {
        stats_.misses++;
      }
    }
    if (p == nullptr) {
      p = alignedOrThrow(size);
      std::lock_guard<std::mutex> lock(mutex_);
      live_[p] = size;
    }
    return {p, p, &freeBlock, cpu};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &freeBlock; }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void release() const {
    std::multimap<std::size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      stats_.cachedBytes = 0;
      stats_.cachedBlocks = 0;
    }
    for (auto& b : blocks) std::free(b.second);
  }

 private:
  CachingCpuAllocator() : limit_(physicalMemory() / 4) {}

  // Frees both kinds of block (raw_deallocate may hand either): a large one goes back
  // to the cache while the cache is under its limit, anything else to the system.
  static void freeBlock(void* p) {
    if (p == nullptr) return;
    CachingCpuAllocator& a = get();
    {
      std::lock_guard<std::mutex> lock(a.mutex_);
      auto it = a.live_.find(p);
      if (it != a.live_.end()) {
        const std::size_t size = it->second;
        a.live_.erase(it);
        if (a.stats_.cachedBytes + size <= a.limit_) {
          a.free_.emplace(size, p);
          a.stats_.cachedBytes += size;
          a.stats_.cachedBlocks++;
          return;
        }
      }
    }
    std::free(p);
  }

  void* alignedOrThrow(std::size_t n) const {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, n) == 0) return p;
    release();  // memory held by the cache may be what is missing
    if (posix_memalign(&p, kAlignment, n) == 0) return p;
    TORCH_CHECK(false, "CPU allocator: out of memory: could not allocate ", n, " bytes");
    return nullptr;
  }

  const std::size_t limit_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, std::size_t> live_;     // large blocks in use
  mutable std::multimap<std::size_t, void*> free_;          // large blocks kept, by size
  mutable CpuCacheStats stats_;
};

bool installed = false;

}  // namespace

void installCpuAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* choice = std::getenv("THTL_CPU_ALLOCATOR");
    if (choice != nullptr && std::string(choice) == "default") return;
    // Priority 1 outranks LibTorch's own registration (0).
    c10::SetAllocator(c10::DeviceType::CPU, &CachingCpuAllocator::get(), 1);
    installed = true;
  });
}

std::string cpuAllocatorName() { return installed ? "caching" : "default"; }

CpuCacheStats cpuCacheStats() { return installed ? CachingCpuAllocator::get().stats() : CpuCacheStats{}; }

void releaseCpuCache() {
  if (installed) CachingCpuAllocator::get().release();
}

}  // namespace thtl
