#include "common/register.h"

namespace thtl {
void registerWeights(Napi::Env env, Napi::Object exports) {}
}  // namespace thtl
