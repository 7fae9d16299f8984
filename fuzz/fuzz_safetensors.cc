// The safetensors reader (src-native/io/safetensors.cc: the JSON header, offsets, dtypes),
// through readWeightFile, seeded with safetensors files.
#include "common.h"
#include "io/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = thtl::fuzz::asFile(data, size, ".safetensors");
  thtl::fuzz::expectCleanErrors([&] { (void)thtl::io::readWeightFile(path); });
  return 0;
}
