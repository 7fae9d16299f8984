#include "common/register.h"

namespace thtl {
void registerModels(Napi::Env env, Napi::Object exports) {}
}  // namespace thtl
