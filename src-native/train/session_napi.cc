#include "common/register.h"

namespace thtl {
void registerSession(Napi::Env env, Napi::Object exports) {}
}  // namespace thtl
