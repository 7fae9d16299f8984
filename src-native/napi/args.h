// Reading the arguments of a call from JavaScript, with one error style for the whole addon.
// Every message starts with the call's name as JavaScript sees it ("Session.trainEpoch: ").
//  - A value of the wrong type (or a missing required one) is a TypeError:
//      "Session.trainEpoch: options.batchSize must be an integer"
//  - A value of the right type that is not allowed is a RangeError naming the value:
//      "Session.trainEpoch: options.batchSize must be in 1..65536, got 0"
//  - A failure of the work itself is an Error "<call>: <what went wrong>" (guard() in
//    errors.h, AsyncTask in async.h).
#pragma once
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace thtl {

class Options;

// The largest integer a JavaScript number holds exactly.
constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// The arguments of one call. Index past the end reads as undefined.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, std::string call);

  Napi::Env env() const { return env_; }
  const std::string& call() const { return call_; }
  Napi::Value operator[](size_t i) const;
  // Given and neither undefined nor null.
  bool has(size_t i) const;

  // "<call>: <name> must be <kind>"
  Napi::TypeError typeError(const std::string& name, const std::string& kind) const;
  // "<call>: <message>"
  Napi::RangeError rangeError(const std::string& message) const;

  std::string string(size_t i, const std::string& name) const;
  std::string path(size_t i, const std::string& name) const;  // a non-empty string
  double number(size_t i, const std::string& name) const;     // finite
  int64_t integer(size_t i, const std::string& name, int64_t lo, int64_t hi) const;
  bool boolean(size_t i, const std::string& name) const;
  std::vector<std::string> strings(size_t i, const std::string& name) const;
  std::vector<int64_t> integers(size_t i, const std::string& name) const;  // number[] or Int32Array
  Napi::Float32Array float32s(size_t i, const std::string& name) const;
  // An options object: undefined or null reads as {}, anything else but an object is a
  // TypeError. Its keys are named "options.<key>" in messages.
  Options options(size_t i) const;

 private:
  friend class Options;
  Napi::Env env_;
  std::string call_;
  std::vector<Napi::Value> values_;
};

// The keys of an options object; a missing (undefined or null) key gives the fallback.
class Options {
 public:
  Options(const Args& args, Napi::Object object, std::string prefix = "options.");

  bool has(const char* key) const;
  Napi::Value get(const char* key) const;

  std::string string(const char* key, const std::string& fallback) const;
  double number(const char* key, double fallback) const;
  int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const;
  bool boolean(const char* key, bool fallback) const;
  // Required when no fallback is given.
  std::vector<std::string> strings(const char* key) const;
  std::optional<std::vector<std::string>> stringsIfGiven(const char* key) const;
  std::vector<int64_t> integers(const char* key) const;
  // A function, or an empty value when none is given.
  Napi::Value function(const char* key) const;

 private:
  const Args& args_;
  Napi::Object object_;
  std::string prefix_;
};

// One value, checked against the same rules (for values found elsewhere, such as array
// elements). `name` is what messages call it.
namespace arg {
std::string string(const Args& a, const Napi::Value& v, const std::string& name);
double number(const Args& a, const Napi::Value& v, const std::string& name);
int64_t integer(const Args& a, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi);
bool boolean(const Args& a, const Napi::Value& v, const std::string& name);
std::vector<std::string> strings(const Args& a, const Napi::Value& v, const std::string& name);
std::vector<int64_t> integers(const Args& a, const Napi::Value& v, const std::string& name);
}  // namespace arg

// JavaScript values from C++ ones.
Napi::Array stringArray(Napi::Env env, const std::vector<std::string>& values);
Napi::Float32Array float32Array(Napi::Env env, const float* data, size_t n);
Napi::Int32Array int32Array(Napi::Env env, const std::vector<int32_t>& values);
Napi::Array numberArray(Napi::Env env, const std::vector<int64_t>& values);

}  // namespace thtl
