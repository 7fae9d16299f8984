#include "napi/classes.h"

namespace thtl {

void PerEnvConstructor::set(Napi::Env env, Napi::Function fn) {
  napi_ref ref = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, fn, 1, &ref));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = refs_.find(env);
    if (it != refs_.end()) napi_delete_reference(env, it->second);
    refs_[env] = ref;
  }
  napi_env raw = env;
  env.AddCleanupHook([this, raw]() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = refs_.find(raw);
    if (it == refs_.end()) return;
    napi_delete_reference(raw, it->second);
    refs_.erase(it);
  });
}

Napi::Function PerEnvConstructor::get(Napi::Env env, const char* name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = refs_.find(env);
  napi_value value = nullptr;
  if (it == refs_.end() || napi_get_reference_value(env, it->second, &value) != napi_ok || value == nullptr)
    throw Napi::Error::New(env, std::string(name) + " is not registered in this environment");
  return Napi::Function(env, value);
}

}  // namespace thtl
