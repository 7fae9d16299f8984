// The pickle interpreter (src-native/io/pickle.cc) on arbitrary programs. Every persistent
// id loads a 16-float storage, so the tensor rebuild paths are reached too.
#include <torch/torch.h>

#include "common.h"
#include "io/io_internal.h"

using namespace thtl::io::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const torch::Tensor storage = torch::arange(16, torch::kFloat);
  const std::string program(reinterpret_cast<const char*>(data), size);
  PersistentLoad load = [](const PValue&) {
    auto v = std::make_shared<PValue>(PValue::Kind::Storage);
    v->dtype = c10::kFloat;
    v->tensor = storage;
    return v;
  };
  thtl::fuzz::expectCleanErrors([&] {
    const Pickle p = unpickle(program, load, "fuzz.pkl");
    if (p.root) (void)describe(*p.root);
  });
  return 0;
}
