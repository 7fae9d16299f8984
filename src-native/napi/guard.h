// The boundary's one translation of C++ failures into JavaScript errors with context.
#pragma once
#include <napi.h>

#include <string>

#include "common/errors.h"

namespace thtl {

// Run `fn` and turn any C++ exception into a pending JS exception.
template <typename Fn>
auto guard(const Napi::Env& env, const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw Napi::Error::New(env, std::string(what) + ": " + currentExceptionMessage());
  }
}

}  // namespace thtl
