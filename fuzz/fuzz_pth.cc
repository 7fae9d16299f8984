// A whole weight file as `readWeights` reads it (src-native/io/weights.cc: the format by
// content, then the .pth reader: zip + pickle + storages), seeded with torch.save files.
#include "common.h"
#include "io/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = thtl::fuzz::asFile(data, size, ".pth");
  thtl::fuzz::expectCleanErrors([&] { (void)thtl::io::readWeightFile(path); });
  return 0;
}
