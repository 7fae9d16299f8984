#include "common/register.h"

namespace thtl {
void registerInfo(Napi::Env env, Napi::Object exports) {}
}  // namespace thtl
