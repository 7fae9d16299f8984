// Registration only: every export lives with its concern.
#include <napi.h>

#include "common/cpu_allocator.h"
#include "napi/register.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  thtl::installCpuAllocator();  // before any tensor exists
  thtl::registerInfo(env, exports);
  thtl::registerWeights(env, exports);
  thtl::registerData(env, exports);
  thtl::registerModels(env, exports);
  thtl::registerSession(env, exports);
#ifdef THTL_TEST_HOOKS
  thtl::registerTestHooks(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(thtl_native, Init)
