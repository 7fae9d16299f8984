#include "common/register.h"

namespace thtl {
void registerData(Napi::Env env, Napi::Object exports) {}
}  // namespace thtl
