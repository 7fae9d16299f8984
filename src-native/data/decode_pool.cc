#include "data/decode_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/errors.h"
#include "data/images_internal.h"

namespace thtl::data {

void runOnWorkers(size_t workers, const std::function<void()>& fn) {
  std::vector<std::thread> pool;
  try {
    pool.reserve(workers > 0 ? workers - 1 : 0);
    for (size_t t = 1; t < workers; ++t) pool.emplace_back(fn);
  } catch (...) {
  }
  fn();
  for (auto& t : pool) t.join();
}

size_t workerCount(int threads, size_t items) {
  const size_t want = threads > 0 ? static_cast<size_t>(threads)
                                  : std::max<size_t>(1, std::thread::hardware_concurrency());
  return std::max<size_t>(1, std::min(want, items));
}

void DecodeOutcome::rethrow() const {
  if (finishedError) std::rethrow_exception(finishedError);
  if (aborted) throw Aborted();
  if (progressError) std::rethrow_exception(progressError);
  if (haveFatal) throw UserError(fatal.file + ": " + fatal.reason);
}

DecodeOutcome decodeFiles(const DecodeJob& job) {
  DecodeOutcome out;
  const auto& files = *job.files;
  const size_t slotBytes = static_cast<size_t>(3 * job.size * job.size);
  long delayMs = 0;
  if (const char* d = std::getenv("THTL_TEST_DECODE_DELAY_MS")) delayMs = std::max(0L, std::strtol(d, nullptr, 10));

  std::atomic<size_t> next{0};
  std::atomic<size_t> done{job.alreadyDone};
  std::atomic<size_t> decoded{0};
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards `out`

  auto keep = [&](std::exception_ptr& into) {
    std::lock_guard<std::mutex> lock(mu);
    if (!into) into = std::current_exception();
    stop = true;
  };

  auto work = [&]() {
    while (!stop.load(std::memory_order_relaxed)) {
      const size_t k = next.fetch_add(1);
      if (k >= job.items.size()) break;
      const size_t i = job.items[k];
      uint8_t* slot = job.slot(i);
      std::string reason;
      bool failed = false;
      try {
        detail::decodeInto(files[i], job.size, slot);
      } catch (...) {
        failed = true;
        reason = currentExceptionMessage();
        std::memset(slot, 0, slotBytes);
      }
      if (delayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
      decoded.fetch_add(1);
      if (failed) {
        std::lock_guard<std::mutex> lock(mu);
        if (job.skipBad) {
          out.failures.push_back(DecodeFailure{i, files[i], reason});
        } else {
          if (!out.haveFatal || i < out.fatal.index) out.fatal = DecodeFailure{i, files[i], reason};
          out.haveFatal = true;
          stop = true;
        }
      }
      const size_t d = done.fetch_add(1) + 1;
      if (job.progress) {
        try {
          job.progress(d, job.total);
        } catch (const Aborted&) {
          std::lock_guard<std::mutex> lock(mu);
          out.aborted = true;
          stop = true;
        } catch (...) {
          keep(out.progressError);
        }
      }
      if (job.finished) {
        try {
          job.finished(i, failed ? &reason : nullptr, d);
        } catch (...) {
          keep(out.finishedError);
        }
      }
    }
  };
  if (!job.items.empty()) runOnWorkers(workerCount(job.threads, job.items.size()), work);

  std::sort(out.failures.begin(), out.failures.end(),
            [](const DecodeFailure& a, const DecodeFailure& b) { return a.index < b.index; });
  out.decoded = decoded.load();
  return out;
}

}  // namespace thtl::data
