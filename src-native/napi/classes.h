// The constructor of a native class in each Node environment: the main thread and every
// worker_threads Worker load the addon into an environment of their own, and a function
// of one environment cannot be used in another.
#pragma once
#include <napi.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace thtl {

class PerEnvConstructor {
 public:
  // Records `fn` as this environment's constructor; dropped when the environment ends.
  void set(Napi::Env env, Napi::Function fn);
  // This environment's constructor; an Error naming `name` if it has none.
  Napi::Function get(Napi::Env env, const char* name);

 private:
  std::mutex mutex_;
  // Raw napi_refs (trivially destructible), so nothing touches N-API from static destructors.
  std::unordered_map<napi_env, napi_ref> refs_;
};

}  // namespace thtl
