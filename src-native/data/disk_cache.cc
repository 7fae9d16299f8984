// The persistent, memory-mapped decode cache. Format and protocol: data/disk_cache.h.
#include "data/disk_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <random>
#include <system_error>

#include "common/errors.h"
#include "common/fnv.h"
#include "data/decode_pool.h"

namespace thtl::data {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kPixelMagic[8] = {'T', 'H', 'T', 'L', 'P', 'I', 'X', '\0'};
constexpr char kIndexMagic[8] = {'T', 'H', 'T', 'L', 'I', 'D', 'X', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint32_t kMaxReason = 4096;
constexpr auto kCheckpointInterval = std::chrono::seconds(2);

enum SlotState : uint8_t { kEmpty = 0, kOk = 1, kFailed = 2 };

struct PixelHeader {
  char magic[8];
  uint32_t version;
  uint32_t headerBytes;
  int64_t size;
  uint64_t count;
  uint64_t slotBytes;
  uint64_t key;
  uint64_t generation;
};

// What a slot's file looked like when it was decoded: size and mtime (ns); bytes = -1
// when the file could not be stat'ed (missing), so a file that appears is a change.
struct Signature {
  int64_t bytes = -1;
  int64_t mtimeNs = 0;
  bool operator==(const Signature& o) const { return bytes == o.bytes && mtimeNs == o.mtimeNs; }
};

struct Slot {
  uint8_t state = kEmpty;
  Signature sig;
  uint64_t pathHash = 0;
  std::string reason;
};

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string absolutePath(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(fs::path(p), ec);
  if (ec) return p;
  return a.lexically_normal().string();
}

uint64_t pathHash(const std::string& absolute) {
  Fnv1a f(0x6a09e667f3bcc908ULL);  // another basis than the key's
  f.add(absolute);
  return f.h;
}

uint64_t cacheKey(const std::vector<std::string>& absolute, int64_t size) {
  Fnv1a f;
  f.add(std::string("thtl-decode-cache"));
  f.add(&size, sizeof size);
  const uint64_t n = absolute.size();
  f.add(&n, sizeof n);
  for (const std::string& p : absolute) f.add(p);
  return f.h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Signature statSignature(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Signature{};
#if defined(__APPLE__)
  const struct timespec& t = st.st_mtimespec;
#else
  const struct timespec& t = st.st_mtim;
#endif
  return Signature{static_cast<int64_t>(st.st_size), static_cast<int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec};
}

int syncData(int fd) {
#if defined(__APPLE__)
  return ::fsync(fd);
#else
  return ::fdatasync(fd);
#endif
}

// Reserves the file's blocks (so writes through a mapping cannot meet a full disk);
// 0 or an errno value.
int reserve(int fd, uint64_t bytes) {
#if defined(__APPLE__)
  return ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 ? 0 : errno;
#else
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (rc == EINVAL || rc == EOPNOTSUPP) rc = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 ? 0 : errno;
  return rc;
#endif
}

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A mapping of a whole file; unmapped when the last owner (an ImageCache's tensor
// storage, through the from_blob deleter) lets go.
class Mapping {
 public:
  Mapping(uint8_t* addr, size_t length) : addr_(addr), length_(length) {}
  ~Mapping() {
    if (addr_ != nullptr) ::munmap(addr_, length_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* data() const { return addr_; }
  size_t length() const { return length_; }

 private:
  uint8_t* addr_;
  size_t length_;
};

bool readAll(int fd, void* buf, size_t n, off_t offset) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
    offset += got;
  }
  return true;
}

void writeAll(int fd, const void* buf, size_t n, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    const ssize_t put = ::write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) throw UserError("cannot write " + path + " (" + errnoText(errno) + ")");
    p += put;
    n -= static_cast<size_t>(put);
  }
}

// ---------------------------------------------------------------------------------------
// The index file

struct IndexHead {
  int64_t size = 0;
  uint64_t count = 0;
  uint64_t key = 0;
  uint64_t generation = 0;
};

template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string serializeIndex(const IndexHead& head, const std::vector<Slot>& slots) {
  std::string out;
  out.reserve(48 + slots.size() * 29 + 8);
  out.append(kIndexMagic, sizeof kIndexMagic);
  put(out, kVersion);
  put(out, uint32_t{0});
  put(out, head.size);
  put(out, head.count);
  put(out, head.key);
  put(out, head.generation);
  for (const Slot& s : slots) {
    put(out, s.state);
    put(out, s.sig.bytes);
    put(out, s.sig.mtimeNs);
    put(out, s.pathHash);
    const uint32_t len =
        s.state == kFailed ? static_cast<uint32_t>(std::min<size_t>(s.reason.size(), kMaxReason)) : 0;
    put(out, len);
    out.append(s.reason.data(), len);
  }
  Fnv1a sum;
  sum.add(out.data(), out.size());
  put(out, sum.h);
  return out;
}

class Reader {
 public:
  explicit Reader(const std::string& bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  template <typename T>
  bool get(T& v) {
    if (static_cast<size_t>(end_ - p_) < sizeof v) return false;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return true;
  }
  bool get(std::string& s, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    s.assign(p_, n);
    p_ += n;
    return true;
  }
  bool atEnd() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

// The index's slots when `path` is a complete, intact index of this (size, count, key);
// false otherwise (missing, truncated, corrupt, other version or key).
bool readIndex(const std::string& path, const IndexHead& want, uint64_t& generation,
               std::vector<Slot>& slots) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const uint64_t minBytes = 48 + want.count * 29 + 8;
  const uint64_t maxBytes = minBytes + want.count * uint64_t{kMaxReason};
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) < minBytes ||
      static_cast<uint64_t>(st.st_size) > maxBytes)
    return false;
  std::string bytes;
  try {
    bytes.resize(static_cast<size_t>(st.st_size));
  } catch (...) {
    return false;
  }
  if (!readAll(fd.get(), bytes.data(), bytes.size(), 0)) return false;

  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - sizeof stored, sizeof stored);
  Fnv1a sum;
  sum.add(bytes.data(), bytes.size() - sizeof stored);
  if (sum.h != stored) return false;
  bytes.resize(bytes.size() - sizeof stored);

  Reader r(bytes);
  char magic[8];
  uint32_t version = 0, reserved = 0;
  IndexHead head;
  if (!r.get(magic) || std::memcmp(magic, kIndexMagic, sizeof magic) != 0) return false;
  if (!r.get(version) || version != kVersion || !r.get(reserved)) return false;
  if (!r.get(head.size) || !r.get(head.count) || !r.get(head.key) || !r.get(head.generation))
    return false;
  if (head.size != want.size || head.count != want.count || head.key != want.key) return false;
  std::vector<Slot> out(static_cast<size_t>(head.count));
  for (Slot& s : out) {
    uint32_t len = 0;
    if (!r.get(s.state) || !r.get(s.sig.bytes) || !r.get(s.sig.mtimeNs) || !r.get(s.pathHash) ||
        !r.get(len))
      return false;
    if (s.state > kFailed || len > kMaxReason || (len > 0 && s.state != kFailed)) return false;
    if (!r.get(s.reason, len)) return false;
  }
  if (!r.atEnd()) return false;
  generation = head.generation;
  slots = std::move(out);
  return true;
}

void writeIndex(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) throw UserError("cannot write " + tmp + " (" + errnoText(errno) + ")");
  try {
    writeAll(fd.get(), bytes.data(), bytes.size(), tmp);
    if (syncData(fd.get()) != 0) throw UserError("cannot sync " + tmp + " (" + errnoText(errno) + ")");
  } catch (...) {
    fd.reset();
    ::unlink(tmp.c_str());
    throw;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw UserError("cannot write " + path + " (" + errnoText(err) + ")");
  }
}

// ---------------------------------------------------------------------------------------
// The pixel file

bool pixelFileMatches(int fd, const PixelHeader& want, uint64_t totalBytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) != totalBytes) return false;
  PixelHeader h{};
  if (!readAll(fd, &h, sizeof h, 0)) return false;
  return std::memcmp(h.magic, want.magic, sizeof h.magic) == 0 && h.version == want.version &&
         h.headerBytes == want.headerBytes && h.size == want.size && h.count == want.count &&
         h.slotBytes == want.slotBytes && h.key == want.key && h.generation == want.generation;
}

uint64_t newGeneration() {
  std::random_device rd;
  uint64_t g = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  g ^= static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  g ^= static_cast<uint64_t>(::getpid()) << 17;
  return g;
}

// Unlinks (never truncates: a mapping elsewhere keeps its pages) and creates a fresh pixel
// file with `header`, its whole length reserved on disk.
Fd createPixelFile(const std::string& path, const PixelHeader& header, uint64_t totalBytes) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw UserError("cannot replace the decode cache file " + path + " (" + errnoText(errno) + ")");
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid())
    throw UserError("cannot create the decode cache file " + path + " (" + errnoText(errno) + ")");
  const int rc = reserve(fd.get(), totalBytes);
  if (rc != 0) {
    fd.reset();
    ::unlink(path.c_str());
    throw UserError("cannot reserve " + std::to_string(totalBytes >> 20) + " MiB for the decode cache file " +
                    path + " (" + errnoText(rc) + "); free some space or choose another cache folder");
  }
  std::vector<uint8_t> block(kHeaderBytes, 0);
  std::memcpy(block.data(), &header, sizeof header);
  if (::pwrite(fd.get(), block.data(), block.size(), 0) != static_cast<ssize_t>(block.size())) {
    const int err = errno;
    fd.reset();
    ::unlink(path.c_str());
    throw UserError("cannot write the decode cache file " + path + " (" + errnoText(err) + ")");
  }
  return fd;
}

}  // namespace

std::string diskCacheName(const std::vector<std::string>& files, int64_t size) {
  std::vector<std::string> absolute;
  absolute.reserve(files.size());
  for (const auto& f : files) absolute.push_back(absolutePath(f));
  return hex64(cacheKey(absolute, size)) + "-" + std::to_string(size) + "px";
}

namespace {

// One build of the disk cache of (files, size) in a folder, step by step.
class DiskCacheBuild {
 public:
  DiskCacheBuild(const std::vector<std::string>& files, int64_t size, int threads, bool skipBad,
                 const std::string& cacheDir)
      : files_(files), n_(files.size()), size_(size), threads_(threads), skipBad_(skipBad), cacheDir_(cacheDir) {
    slotBytes_ = static_cast<uint64_t>(3 * size * size);
    if (n_ > (std::numeric_limits<uint64_t>::max() / 2 - kHeaderBytes) / slotBytes_ ||
        kHeaderBytes + n_ * slotBytes_ > static_cast<uint64_t>(std::numeric_limits<off_t>::max()))
      throw UserError("the decode cache of " + std::to_string(n_) + " images at " + std::to_string(size) +
                      "px would be too large");
    totalBytes_ = kHeaderBytes + n_ * slotBytes_;
    absolute_.reserve(n_);
    for (const auto& f : files) absolute_.push_back(absolutePath(f));
    key_ = cacheKey(absolute_, size);
    const std::string stem = (fs::path(cacheDir) / (hex64(key_) + "-" + std::to_string(size) + "px")).string();
    pixelsPath_ = stem + ".pixels";
    indexPath_ = stem + ".index";
    lockPath_ = stem + ".lock";
  }

  std::shared_ptr<ImageCache> run(const std::function<void(size_t, size_t)>& progress) {
    lock();
    stat();
    open();
    map();
    decode(progress);
    return result();
  }

 private:
  // The folder, the lock (one builder per key at a time, across processes; released when
  // the build ends) and no temp files of index writes that a killed builder left behind.
  void lock() {
    std::error_code ec;
    fs::create_directories(cacheDir_, ec);
    if (ec || !fs::is_directory(cacheDir_, ec))
      throw UserError("cannot create the decode cache folder " + cacheDir_ +
                      (ec ? " (" + ec.message() + ")" : std::string()));
    lock_ = Fd(::open(lockPath_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock_.valid())
      throw UserError("cannot open the decode cache lock " + lockPath_ + " (" + errnoText(errno) + ")");
    while (::flock(lock_.get(), LOCK_EX) != 0) {
      if (errno != EINTR)
        throw UserError("cannot lock the decode cache " + lockPath_ + " (" + errnoText(errno) + ")");
    }
    const std::string prefix = fs::path(indexPath_).filename().string() + ".tmp-";
    for (fs::directory_iterator it(cacheDir_, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.compare(0, prefix.size(), prefix) == 0) ::unlink(it->path().c_str());
    }
  }

  // What every file looks like now.
  void stat() {
    sigs_.resize(n_);
    hashes_.resize(n_);
    std::atomic<size_t> next{0};
    runOnWorkers(workerCount(threads_, n_), [&]() {
      for (;;) {
        const size_t begin = next.fetch_add(64);
        if (begin >= n_) break;
        for (size_t i = begin; i < std::min(n_, begin + 64); ++i) {
          sigs_[i] = statSignature(files_[i]);
          hashes_[i] = pathHash(absolute_[i]);
        }
      }
    });
  }

  // Reuses the cache on disk when its index and pixel file agree, else starts afresh; then
  // lists the slots to decode (empty, or their file changed).
  void open() {
    PixelHeader header{};
    std::memcpy(header.magic, kPixelMagic, sizeof header.magic);
    header.version = kVersion;
    header.headerBytes = static_cast<uint32_t>(kHeaderBytes);
    header.size = size_;
    header.count = n_;
    header.slotBytes = slotBytes_;
    header.key = key_;
    head_ = IndexHead{size_, static_cast<uint64_t>(n_), key_, 0};
    if (readIndex(indexPath_, head_, head_.generation, slots_)) {
      header.generation = head_.generation;
      pixels_ = Fd(::open(pixelsPath_.c_str(), O_RDWR | O_CLOEXEC));
      if (pixels_.valid() && !pixelFileMatches(pixels_.get(), header, totalBytes_)) pixels_.reset();
    }
    if (!pixels_.valid()) {
      if (::unlink(indexPath_.c_str()) != 0 && errno != ENOENT)
        throw UserError("cannot replace the decode cache index " + indexPath_ + " (" + errnoText(errno) + ")");
      head_.generation = header.generation = newGeneration();
      slots_.assign(n_, Slot{});
      pixels_ = createPixelFile(pixelsPath_, header, totalBytes_);
    }
    for (size_t i = 0; i < n_; ++i) {
      Slot& s = slots_[i];
      if (s.state != kEmpty && s.pathHash == hashes_[i] && s.sig == sigs_[i]) continue;
      invalidated_ = invalidated_ || s.state != kEmpty;
      s = Slot{};
      todo_.push_back(i);
    }
    reused_ = n_ - todo_.size();
    if (!skipBad_) {
      for (size_t i = 0; i < n_; ++i)
        if (slots_[i].state == kFailed) throw UserError(files_[i] + ": " + slots_[i].reason);
    }
  }

  void map() {
    void* addr = ::mmap(nullptr, static_cast<size_t>(totalBytes_), PROT_READ | PROT_WRITE, MAP_SHARED,
                        pixels_.get(), 0);
    if (addr == MAP_FAILED)
      throw UserError("cannot map the decode cache file " + pixelsPath_ + " (" + errnoText(errno) + ")");
    mapping_ = std::make_shared<Mapping>(static_cast<uint8_t*>(addr), static_cast<size_t>(totalBytes_));
    pixels_.reset();  // the mapping stays valid without the descriptor
  }

  uint8_t* slot(size_t i) const { return mapping_->data() + kHeaderBytes + i * slotBytes_; }

  // Claims in the index exactly the slots finished before the snapshot, after their
  // pixels are on disk.
  void checkpoint() {
    std::string bytes;
    {
      std::lock_guard<std::mutex> l(mutex_);
      bytes = serializeIndex(head_, slots_);
      sinceCheckpoint_ = 0;
      lastCheckpoint_ = Clock::now();
    }
    if (::msync(mapping_->data(), mapping_->length(), MS_SYNC) != 0)
      throw UserError("cannot flush the decode cache file " + pixelsPath_ + " (" + errnoText(errno) + ")");
    writeIndex(indexPath_, bytes);
  }

  // Records slot i; every max(64, N/64) images or kCheckpointInterval, one worker claims
  // what is finished.
  void finished(size_t i, const std::string* failure, size_t done) {
    bool due = false;
    {
      std::lock_guard<std::mutex> l(mutex_);
      Slot& s = slots_[i];
      s.sig = sigs_[i];
      s.pathHash = hashes_[i];
      s.state = failure ? kFailed : kOk;
      s.reason = failure ? *failure : std::string();
      ++sinceCheckpoint_;
      due = sinceCheckpoint_ >= std::max<size_t>(64, n_ / 64) || Clock::now() - lastCheckpoint_ >= kCheckpointInterval;
    }
    if (!due || done >= n_) return;
    std::unique_lock<std::mutex> cl(checkpointMutex_, std::try_to_lock);
    if (cl.owns_lock()) checkpoint();
  }

  void decode(const std::function<void(size_t, size_t)>& progress) {
    // Unclaim the slots of changed files before overwriting them, so that a build killed
    // mid-write never leaves the index claiming a half-written slot.
    if (invalidated_) checkpoint();
    if (progress && reused_ > 0) progress(reused_, n_);
    DecodeJob job(files_, size_, threads_, skipBad_);
    job.items = todo_;
    job.alreadyDone = reused_;
    job.slot = [this](size_t i) { return slot(i); };
    job.progress = progress;
    job.finished = [this](size_t i, const std::string* failure, size_t done) { finished(i, failure, done); };
    DecodeOutcome outcome = decodeFiles(job);
    // The final checkpoint also keeps the work of a build that failed or was aborted (a
    // rebuild reuses it).
    if (!todo_.empty()) {
      std::lock_guard<std::mutex> cl(checkpointMutex_);
      try {
        checkpoint();
      } catch (...) {
        if (!outcome.finishedError) outcome.finishedError = std::current_exception();
      }
    }
    outcome.rethrow();
    decoded_ = outcome.decoded;
  }

  std::shared_ptr<ImageCache> result() {
    if (::mprotect(mapping_->data(), mapping_->length(), PROT_READ) != 0)
      throw UserError("cannot protect the decode cache mapping (" + errnoText(errno) + ")");
    auto cache = std::make_shared<ImageCache>();
    cache->size = size_;
    cache->files = files_;
    for (size_t i = 0; i < n_; ++i)
      if (slots_[i].state == kFailed) cache->failures.push_back(DecodeFailure{i, files_[i], slots_[i].reason});
    auto mapping = mapping_;
    cache->pixels = torch::from_blob(
        slot(0), {static_cast<int64_t>(n_), 3, size_, size_}, [mapping](void*) {}, torch::kUInt8);
    cache->decoded = decoded_;
    cache->reused = reused_;
    cache->cacheFile = pixelsPath_;
    return cache;
  }

  const std::vector<std::string>& files_;
  const size_t n_;
  const int64_t size_;
  const int threads_;
  const bool skipBad_;
  const std::string cacheDir_;
  uint64_t slotBytes_ = 0, totalBytes_ = 0, key_ = 0;
  std::vector<std::string> absolute_;
  std::string pixelsPath_, indexPath_, lockPath_;
  Fd lock_, pixels_;
  std::vector<Signature> sigs_;
  std::vector<uint64_t> hashes_;
  IndexHead head_{};
  std::vector<Slot> slots_;
  std::vector<size_t> todo_;
  bool invalidated_ = false;  // a slot the index claims is about to be rewritten
  size_t reused_ = 0, decoded_ = 0;
  std::shared_ptr<Mapping> mapping_;
  std::mutex mutex_;            // guards slots_ and the checkpoint bookkeeping
  std::mutex checkpointMutex_;  // one checkpoint at a time
  size_t sinceCheckpoint_ = 0;
  Clock::time_point lastCheckpoint_ = Clock::now();
};

}  // namespace

std::shared_ptr<ImageCache> buildDiskCache(const std::vector<std::string>& files, int64_t size,
                                           int threads, bool skipBad, const std::string& cacheDir,
                                           const std::function<void(size_t, size_t)>& progress) {
  if (size <= 0 || size > 16384)
    throw UserError("image size must be in 1..16384, got " + std::to_string(size));
  if (cacheDir.empty()) throw UserError("the decode cache folder must be a non-empty path");
  if (files.empty()) {
    auto cache = std::make_shared<ImageCache>();
    cache->size = size;
    cache->pixels = torch::zeros({0, 3, size, size}, torch::kUInt8);
    return cache;
  }
  return DiskCacheBuild(files, size, threads, skipBad, cacheDir).run(progress);
}

}  // namespace thtl::data
