#include "common.h"

#include <unistd.h>

#include <fstream>

namespace thtl::fuzz {

namespace {
std::string scratch;
void removeScratch() {
  if (!scratch.empty()) ::unlink(scratch.c_str());
}
}  // namespace

const std::string& asFile(const uint8_t* data, size_t size, const char* suffix) {
  if (scratch.empty()) {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    scratch = std::string(dir) + "/thtl-fuzz-" + std::to_string(::getpid()) + suffix;
    std::atexit(removeScratch);
  }
  std::ofstream out(scratch, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return scratch;
}

}  // namespace thtl::fuzz
