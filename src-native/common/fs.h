// File helpers: atomic writes and readable-file checks with clear errors.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "common/fnv.h"

namespace thtl {
// Calls write(tmpPath), flushes tmpPath to disk, then renames it to path (and flushes the
// folder), so that path holds either its old or its new content, whole, even after a
// kill or a power loss; removes tmpPath on failure.
void writeAtomically(const std::string& path, const std::function<void(const std::string&)>& write);
// Throws UserError "<what> <path> does not exist / is not a file / cannot be read".
void requireReadableFile(const std::string& path, const std::string& what);

// A file written through a callback (LibTorch's archive writers): write() never fails
// toward its caller, so that a full disk cannot throw out of the middle of LibTorch's
// writer (whose destructor then throws again and ends the process); the first error is
// kept, and close() throws it as a UserError naming the file and the cause.
class FileSink {
 public:
  explicit FileSink(const std::string& path);
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  size_t write(const void* data, size_t n);  // always n
  void close();
  // Appends the checksum trailer (below) of everything written, from a digest kept while
  // writing (no second read of the file), then closes.
  void closeWithChecksum();

 private:
  void put(const char* p, size_t n);
  std::string path_;
  int fd_ = -1;
  int error_ = 0;
  Fnv1aWords digest_;
  uint64_t bytes_ = 0;
};

// A checksum trailer for files written here and read back later (checkpoints): 24 bytes
// after the content, "THTLSUM1", the content's length and its 64-bit FNV-1a digest (both
// little-endian u64). Readers that stop at the content's own end (a zip reader) ignore it.
// FileSink::closeWithChecksum writes it.
// true: the trailer is there and matches; false: the file has none (written before
// trailers, or not by this program). A trailer that does not match its content (a damaged
// or cut file) throws CorruptFile naming `what`.
bool verifyChecksum(const std::string& path, const std::string& what);
}  // namespace thtl
