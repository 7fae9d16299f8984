#include "common/cpu_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
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
// the addon. Keeping freed memory for the next step removes the work.
//
// How: large blocks (kMinCached and up) are carved out of chunks the allocator maps
// itself (64 MiB, or one block's size if larger). A freed block goes back to its chunk's
// free ranges and merges with the free neighbours there, and a new block takes the
// smallest free range it fits (best fit), splitting off the rest. So the memory one
// tensor freed serves the next tensor of any smaller size, and two neighbours' memory a
// larger one: what the process holds stays close to the most the tensors ever use at
// once. (Keeping whole blocks for requests of about their own size, as this allocator did
// first, held 1298 MiB for resnet50's peak of 1013 MiB in use at batch 8.) Pages are
// only touched, so counted in the resident set, when a block first uses them.
//
// Block starts are spread over 64 cache-line offsets within a page (as jemalloc does for
// large allocations). With every tensor page-aligned, LibTorch 1.13's OpenBLAS
// convolutions ran LayerCAM on resnet18 at 64 px in over 300 ms a call instead of 65.
//
// The free memory is handed back whenever the compute thread has been idle for a few
// seconds (wholly free chunks unmapped, the other free ranges madvise'd away), and at
// once past a bound (a quarter of physical memory).
constexpr std::size_t kAlignment = 64;             // c10's alignment for CPU tensors
constexpr std::size_t kMinCached = 128 * 1024;     // malloc's own heap serves smaller blocks well
constexpr std::size_t kPage = 4096;                 // large blocks span whole pages
constexpr std::size_t kChunk = std::size_t{64} << 20;
constexpr std::size_t kColors = 64;  // tensor starts spread over 64 cache-line offsets within a page

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
      void* p = nullptr;
      if (posix_memalign(&p, kAlignment, n) != 0) {
        release();  // memory held free may be what is missing
        TORCH_CHECK(posix_memalign(&p, kAlignment, n) == 0, "CPU allocator: out of memory: could not allocate ", n, " bytes");
      }
      return {p, p, &freeSmall, cpu};
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t color = (nextColor_++ % kColors) * kAlignment;
    const std::size_t size = roundUp(n + color, kPage);
    char* p = takeFree(size);
    if (p != nullptr) {
      stats_.hits++;
    } else {
      stats_.misses++;
      p = mapChunk(size);
    }
    live_[p + color] = {p, size};
    stats_.liveBytes += size;
    stats_.peakLiveBytes = std::max(stats_.peakLiveBytes, stats_.liveBytes);
    notePeak();
    return {p + color, p + color, &freeBlock, cpu};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &freeBlock; }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    CpuCacheStats s = stats_;
    s.cachedBytes = dirtyBytes_;
    s.cachedBlocks = dirtyRanges_;
    return s;
  }

  // Hands the free memory back: chunks with nothing in use are unmapped, the free ranges
  // of the others madvise'd (their pages are faulted in, zeroed, when used again).
  void release() const {
    std::lock_guard<std::mutex> lock(mutex_);
    releaseLocked();
  }

 private:
  CachingCpuAllocator() : limit_(physicalMemory() / 4) {}

  struct Range {
    std::size_t size;
    char* chunk;   // the chunk it lies in: ranges merge only within one chunk
    bool dirty;    // may hold touched pages (freed by a tensor since the last release)
    std::multimap<std::size_t, char*>::iterator bySize;
  };

  static std::size_t roundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

  static void freeBlock(void* p) {
    if (p == nullptr) return;
    CachingCpuAllocator& a = get();
    {
      std::lock_guard<std::mutex> lock(a.mutex_);
      auto it = a.live_.find(p);
      if (it != a.live_.end()) {
        const Block b = it->second;
        a.live_.erase(it);
        a.stats_.liveBytes -= b.size;
        a.giveBack(b.start, b.size);
        return;
      }
    }
    std::free(p);  // a small block
  }

  // Best fit: the smallest free range of at least `size`, split; nullptr when none.
  char* takeFree(std::size_t size) const {
    auto bs = bySize_.lower_bound(size);
    if (bs == bySize_.end()) return nullptr;
    char* start = bs->second;
    auto it = free_.find(start);
    Range r = it->second;
    eraseRange(it);
    if (r.size > size) insertRange(start + size, Range{r.size - size, r.chunk, r.dirty, {}});
    return start;
  }

  // A freed block back into its chunk's free ranges, merged with its free neighbours.
  void giveBack(char* start, std::size_t size) const {
    auto chunk = std::prev(chunks_.upper_bound(start));
    Range r{size, chunk->first, true, {}};
    auto next = free_.find(start + size);
    if (next != free_.end() && next->second.chunk == r.chunk) {
      r.size += next->second.size;
      r.dirty = r.dirty || next->second.dirty;
      eraseRange(next);
    }
    auto prev = free_.lower_bound(start);
    if (prev != free_.begin()) {
      --prev;
      if (prev->second.chunk == r.chunk && prev->first + prev->second.size == start) {
        start = prev->first;
        r.size += prev->second.size;
        eraseRange(prev);
      }
    }
    insertRange(start, r);
    notePeak();
    if (dirtyBytes_ > limit_) releaseLocked();
  }

  void notePeak() const { stats_.peakHeldBytes = std::max(stats_.peakHeldBytes, stats_.liveBytes + dirtyBytes_); }

  void insertRange(char* start, Range r) const {
    r.bySize = bySize_.emplace(r.size, start);
    if (r.dirty) {
      dirtyBytes_ += r.size;
      dirtyRanges_++;
    }
    free_.emplace(start, r);
  }

  void eraseRange(std::map<char*, Range>::iterator it) const {
    if (it->second.dirty) {
      dirtyBytes_ -= it->second.size;
      dirtyRanges_--;
    }
    bySize_.erase(it->second.bySize);
    free_.erase(it);
  }

  // A new chunk for a block of `size`; the rest of it becomes a free range.
  char* mapChunk(std::size_t size) const {
    const std::size_t bytes = std::max(kChunk, roundUp(size, std::size_t{2} << 20));
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      releaseLocked();  // memory held free may be what is missing
      m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    TORCH_CHECK(m != MAP_FAILED, "CPU allocator: out of memory: could not allocate ", size, " bytes");
    char* c = static_cast<char*>(m);
    chunks_.emplace(c, bytes);
    if (bytes > size) insertRange(c + size, Range{bytes - size, c, false, {}});
    return c;
  }

  void releaseLocked() const {
    for (auto it = free_.begin(); it != free_.end();) {
      Range& r = it->second;
      if (it->first == r.chunk && r.size == chunks_.at(r.chunk)) {  // the whole chunk is free
        char* c = r.chunk;
        const std::size_t bytes = r.size;
        auto drop = it++;
        eraseRange(drop);
        munmap(c, bytes);
        chunks_.erase(c);
        continue;
      }
      if (r.dirty) {
        // whole pages only (every range is), so nothing in use is touched
        madvise(it->first, r.size, MADV_DONTNEED);
        r.dirty = false;
        dirtyBytes_ -= r.size;
        dirtyRanges_--;
      }
      ++it;
    }
  }

  const std::size_t limit_;
  mutable std::mutex mutex_;
  struct Block {
    char* start;
    std::size_t size;
  };
  mutable std::unordered_map<void*, Block> live_;         // large blocks in use, by the pointer handed out
  mutable std::size_t nextColor_ = 0;
  mutable std::map<char*, std::size_t> chunks_;           // mapped chunks, by start
  mutable std::map<char*, Range> free_;                   // free ranges, by start
  mutable std::multimap<std::size_t, char*> bySize_;      // the same, by size
  mutable std::size_t dirtyBytes_ = 0, dirtyRanges_ = 0;  // free ranges that may be resident
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
