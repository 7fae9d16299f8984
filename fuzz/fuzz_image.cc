// The image decoders (src-native/data/images.cc: JPEG and PNG headers, libjpeg/libpng
// decoding with DCT scaling, the antialiased resize), seeded with JPEG and PNG files.
#include "common.h"
#include "data/images.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = thtl::fuzz::asFile(data, size, ".img");
  thtl::fuzz::expectCleanErrors([&] { (void)thtl::data::decodeResized(path, 24); });
  return 0;
}
