// 64-bit FNV-1a hashes, in the two forms the project stores in files.
// - Fnv1a: byte by byte (the decode cache's keys, path hashes and index checksums; the
//   stored values depend on it, so it must not change).
// - Fnv1aWords: over 8-byte little-endian words, then the remaining bytes, fed in chunks
//   of any size (checkpoint trailers: about 8x fewer multiplications on large files).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace thtl {

constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

struct Fnv1a {
  uint64_t h;
  explicit Fnv1a(uint64_t basis = kFnvBasis) : h(basis) {}
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= kFnvPrime;
    }
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }  // with the NUL
};

class Fnv1aWords {
 public:
  void add(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    size_t i = 0;
    if (carried_ > 0) {  // finish a word started by the previous chunk
      while (i < n && carried_ < 8) carry_[carried_++] = p[i++];
      if (carried_ < 8) return;
      word(carry_);
      carried_ = 0;
    }
    for (; i + 8 <= n; i += 8) word(p + i);
    for (; i < n; ++i) carry_[carried_++] = p[i];
  }
  uint64_t finish() {
    for (size_t i = 0; i < carried_; ++i) h_ = (h_ ^ static_cast<uint8_t>(carry_[i])) * kFnvPrime;
    carried_ = 0;
    return h_;
  }

 private:
  void word(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h_ = (h_ ^ w) * kFnvPrime;
  }
  uint64_t h_ = kFnvBasis;
  char carry_[8] = {};
  size_t carried_ = 0;
};

}  // namespace thtl
