// Named tensors as JavaScript values: [{name, dtype, shape, data: Float32Array}].
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "io/weights.h"

namespace thtl {

// Tensors made ready for JavaScript (float32, contiguous, on the CPU), each with the name
// of the dtype it had. Made where tensor work runs (the compute thread).
struct JsTensors {
  io::NamedTensors values;
  std::vector<std::string> dtypes;
};
JsTensors forJs(const io::NamedTensors& tensors);

// On the JS thread: copies only.
Napi::Array toJs(Napi::Env env, const JsTensors& tensors);

}  // namespace thtl
