// Internals shared by images.cc and image_cache.cc (not part of the public data API).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace thtl::data::detail {

// A decode failure; what() is the reason only (no file name), e.g.
// "corrupt JPEG data (Premature end of JPEG file)".
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Decodes `path` (JPEG or PNG, detected by content) and writes it resized to
// size x size into `chw` (uint8, 3 * size * size, channel-major). Throws DecodeError.
void decodeInto(const std::string& path, int64_t size, uint8_t* chw);

}  // namespace thtl::data::detail
