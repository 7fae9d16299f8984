// The decode worker pool behind both image caches (in memory: image_cache.cc; on disk:
// disk_cache.cc): decodes a list of files into their slots on N threads, with failures,
// progress and abort handled one way.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/images.h"

namespace thtl::data {

// Runs fn() on `workers` threads, the calling thread being one of them; threads that
// cannot be started are simply not used.
void runOnWorkers(size_t workers, const std::function<void()>& fn);

// The worker count for `threads` (0 or less: every core), never more than `items`, at least 1.
size_t workerCount(int threads, size_t items);

struct DecodeJob {
  DecodeJob(const std::vector<std::string>& files, int64_t size, int threads, bool skipBad)
      : files(&files), size(size), threads(threads), skipBad(skipBad), total(files.size()) {}

  const std::vector<std::string>* files;
  int64_t size;                // decoded images are size x size
  int threads;                 // 0: every core
  bool skipBad;                // a bad image is a failure to list, not an error
  size_t total;                // progress total
  std::vector<size_t> items;   // indices into *files to decode, in order
  size_t alreadyDone = 0;      // progress count before the first item (images reused)
  // Where image i goes: 3 * size * size bytes; zeroed when its decode fails.
  std::function<uint8_t*(size_t i)> slot;
  // progress(done, total) after each image, on a worker thread. Throwing stops the pool:
  // Aborted for an AbortSignal, anything else is kept and rethrown.
  std::function<void(size_t, size_t)> progress;
  // After each image (and its progress), on a worker thread: `failure` is null when the
  // image decoded. Throwing stops the pool; the exception is kept and rethrown.
  std::function<void(size_t i, const std::string* failure, size_t done)> finished;
};

struct DecodeOutcome {
  std::vector<DecodeFailure> failures;  // with skipBad, by index
  size_t decoded = 0;                   // images attempted
  // Throws what stopped the pool, in this order: an exception of `finished`, Aborted, an
  // exception of `progress`, the first bad image (without skipBad) as "<file>: <reason>".
  void rethrow() const;

  std::exception_ptr finishedError, progressError;
  bool aborted = false;
  bool haveFatal = false;
  DecodeFailure fatal{};
};

// Decodes the job's items (PIL-style antialiased resize to size x size, RGB planes).
// Test aid: THTL_TEST_DECODE_DELAY_MS=<ms> sleeps that long after each decode.
DecodeOutcome decodeFiles(const DecodeJob& job);

}  // namespace thtl::data
