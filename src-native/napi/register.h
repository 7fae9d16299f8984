// Each native concern adds its exports here; addon.cc only calls these.
#pragma once
#include <napi.h>

namespace thtl {
void registerInfo(Napi::Env env, Napi::Object exports);     // info/: doctor facts, threads
void registerWeights(Napi::Env env, Napi::Object exports);  // io/: weight files
void registerData(Napi::Env env, Napi::Object exports);     // data/: decode, cache, encode
void registerModels(Napi::Env env, Napi::Object exports);   // models/: registry table
void registerSession(Napi::Env env, Napi::Object exports);  // train/: Session
#ifdef THTL_TEST_HOOKS
void registerTestHooks(Napi::Env env, Napi::Object exports);  // testing/: test builds only
#endif
}  // namespace thtl
