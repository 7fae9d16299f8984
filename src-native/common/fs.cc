#include "common/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/errors.h"

namespace thtl {
namespace {

void syncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError("cannot open " + path + " to flush it (" + std::strerror(errno) + ")");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw UserError("cannot flush " + path + " to disk (" + std::strerror(err) + ")");
}

void syncFolderOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself has happened
  ::fsync(fd);
  ::close(fd);
}

constexpr char kSumMagic[8] = {'T', 'H', 'T', 'L', 'S', 'U', 'M', '1'};
constexpr size_t kSumBytes = 24;

uint64_t digestOf(std::ifstream& in, uint64_t length, const std::string& path) {
  Fnv1aWords d;
  std::vector<char> buf(1 << 20);
  uint64_t left = length;
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    if (!in.read(buf.data(), static_cast<std::streamsize>(n))) throw UserError("cannot read " + path);
    d.add(buf.data(), n);
    left -= n;
  }
  return d.finish();
}

void putLe64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t getLe64(const char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string errnoReason(int err) {
  if (err == ENOSPC || err == EDQUOT) return "the disk is full: " + std::string(std::strerror(err));
  if (err == EROFS) return "the file system is read-only";
  if (err == EACCES || err == EPERM) return "permission denied";
  return std::strerror(err);
}

// The trailer of `length` bytes of content whose digest is `digest`.
void trailerOf(char* out, uint64_t length, uint64_t digest) {
  std::memcpy(out, kSumMagic, 8);
  putLe64(out + 8, length);
  putLe64(out + 16, digest);
}

}  // namespace

FileSink::FileSink(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError("cannot write " + path + " (" + errnoReason(errno) + ")");
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FileSink::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  digest_.add(p, n);
  bytes_ += n;
  put(p, n);
  return n;
}

void FileSink::put(const char* p, size_t n) {
  size_t left = error_ ? 0 : n;
  while (left > 0) {
    const ssize_t w = ::write(fd_, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      error_ = w < 0 ? errno : ENOSPC;
      break;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

void FileSink::closeWithChecksum() {
  char trailer[kSumBytes];
  trailerOf(trailer, bytes_, digest_.finish());
  put(trailer, kSumBytes);
  close();
}

void FileSink::close() {
  if (fd_ >= 0 && ::close(fd_) != 0 && !error_) error_ = errno;
  fd_ = -1;
  if (error_) throw UserError("cannot write " + path_ + " (" + errnoReason(error_) + ")");
}

bool verifyChecksum(const std::string& path, const std::string& what) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw UserError(what + " cannot be read (" + ec.message() + ")");
  if (size < kSumBytes) return false;
  std::ifstream in(path, std::ios::binary);
  char trailer[kSumBytes];
  in.seekg(static_cast<std::streamoff>(size - kSumBytes));
  if (!in.read(trailer, kSumBytes)) throw UserError(what + " cannot be read");
  if (std::memcmp(trailer, kSumMagic, 8) != 0) return false;
  const uint64_t length = getLe64(trailer + 8);
  if (length != size - kSumBytes)
    throw CorruptFile(what + " is damaged: its checksum trailer says " + std::to_string(length) +
                      " bytes of content, the file holds " + std::to_string(size - kSumBytes));
  in.seekg(0);
  if (digestOf(in, length, path) != getLe64(trailer + 16))
    throw CorruptFile(what + " is damaged: its content does not match its checksum");
  return true;
}

void writeAtomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    write(tmp);
    syncFile(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    rethrowWithContext("cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw UserError("cannot write " + path + " (rename failed: " + std::strerror(err) + ")");
  }
  syncFolderOf(path);
}

void requireReadableFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(what + " " + path + " does not exist");
  if (!std::filesystem::is_regular_file(path, ec)) throw UserError(what + " " + path + " is not a file");
  if (::access(path.c_str(), R_OK) != 0) throw UserError(what + " " + path + " cannot be read");
}

}  // namespace thtl
