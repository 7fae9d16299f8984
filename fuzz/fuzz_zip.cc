// The zip reader (src-native/io/zip.cc): the directory, then every entry of up to 1 MiB.
#include "common.h"
#include "io/io_internal.h"

using namespace thtl::io::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = thtl::fuzz::asFile(data, size, ".zip");
  thtl::fuzz::expectCleanErrors([&] {
    BinaryFile file(path);
    ZipArchive zip(file);
    for (const ZipEntry& e : zip.entries()) {
      thtl::fuzz::expectCleanErrors([&] { (void)zip.read(e, uint64_t{1} << 20); });
    }
  });
  return 0;
}
