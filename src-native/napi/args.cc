#include "napi/args.h"

#include <cmath>

namespace thtl {
namespace {

bool missing(const Napi::Value& v) { return v.IsEmpty() || v.IsUndefined() || v.IsNull(); }

// How a rejected value appears in a message: as JavaScript prints it, strings quoted.
std::string shown(const Napi::Value& v) {
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  return v.ToString().Utf8Value();
}

}  // namespace

Args::Args(const Napi::CallbackInfo& info, std::string call) : env_(info.Env()), call_(std::move(call)) {
  values_.reserve(info.Length());
  for (size_t i = 0; i < info.Length(); ++i) values_.push_back(info[i]);
}

Napi::Value Args::operator[](size_t i) const { return i < values_.size() ? values_[i] : env_.Undefined(); }

bool Args::has(size_t i) const { return !missing((*this)[i]); }

Napi::TypeError Args::typeError(const std::string& name, const std::string& kind) const {
  return Napi::TypeError::New(env_, call_ + ": " + name + " must be " + kind);
}

Napi::RangeError Args::rangeError(const std::string& message) const {
  return Napi::RangeError::New(env_, call_ + ": " + message);
}

std::string Args::string(size_t i, const std::string& name) const { return arg::string(*this, (*this)[i], name); }

std::string Args::path(size_t i, const std::string& name) const {
  const Napi::Value v = (*this)[i];
  if (!v.IsString() || v.As<Napi::String>().Utf8Value().empty()) throw typeError(name, "a non-empty string");
  return v.As<Napi::String>().Utf8Value();
}

double Args::number(size_t i, const std::string& name) const { return arg::number(*this, (*this)[i], name); }

int64_t Args::integer(size_t i, const std::string& name, int64_t lo, int64_t hi) const {
  return arg::integer(*this, (*this)[i], name, lo, hi);
}

bool Args::boolean(size_t i, const std::string& name) const { return arg::boolean(*this, (*this)[i], name); }

std::vector<std::string> Args::strings(size_t i, const std::string& name) const {
  return arg::strings(*this, (*this)[i], name);
}

std::vector<int64_t> Args::integers(size_t i, const std::string& name) const {
  return arg::integers(*this, (*this)[i], name);
}

Napi::Float32Array Args::float32s(size_t i, const std::string& name) const {
  const Napi::Value v = (*this)[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw typeError(name, "a Float32Array");
  return v.As<Napi::Float32Array>();
}

Options Args::options(size_t i) const {
  const Napi::Value v = (*this)[i];
  if (missing(v)) return Options(*this, Napi::Object::New(env_));
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) throw typeError("options", "an object");
  return Options(*this, v.As<Napi::Object>());
}

Options::Options(const Args& args, Napi::Object object, std::string prefix)
    : args_(args), object_(object), prefix_(std::move(prefix)) {}

bool Options::has(const char* key) const { return !missing(object_.Get(key)); }

Napi::Value Options::get(const char* key) const { return object_.Get(key); }

std::string Options::string(const char* key, const std::string& fallback) const {
  return has(key) ? arg::string(args_, get(key), prefix_ + key) : fallback;
}

double Options::number(const char* key, double fallback) const {
  return has(key) ? arg::number(args_, get(key), prefix_ + key) : fallback;
}

int64_t Options::integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
  return has(key) ? arg::integer(args_, get(key), prefix_ + key, lo, hi) : fallback;
}

bool Options::boolean(const char* key, bool fallback) const {
  return has(key) ? arg::boolean(args_, get(key), prefix_ + key) : fallback;
}

std::vector<std::string> Options::strings(const char* key) const {
  return arg::strings(args_, get(key), prefix_ + key);
}

std::optional<std::vector<std::string>> Options::stringsIfGiven(const char* key) const {
  if (!has(key)) return std::nullopt;
  return strings(key);
}

std::vector<int64_t> Options::integers(const char* key) const {
  return arg::integers(args_, get(key), prefix_ + key);
}

Napi::Value Options::function(const char* key) const {
  if (!has(key)) return Napi::Value();
  const Napi::Value v = get(key);
  if (!v.IsFunction()) throw args_.typeError(prefix_ + key, "a function");
  return v;
}

namespace arg {

std::string string(const Args& a, const Napi::Value& v, const std::string& name) {
  if (!v.IsString()) throw a.typeError(name, "a string");
  return v.As<Napi::String>().Utf8Value();
}

double number(const Args& a, const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw a.typeError(name, "a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw a.rangeError(name + " must be a finite number, got " + shown(v));
  return d;
}

int64_t integer(const Args& a, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw a.typeError(name, "an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw a.rangeError(name + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                       ", got " + shown(v));
  return static_cast<int64_t>(d);
}

bool boolean(const Args& a, const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) throw a.typeError(name, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::vector<std::string> strings(const Args& a, const Napi::Value& v, const std::string& name) {
  if (!v.IsArray()) throw a.typeError(name, "an array of strings");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(string(a, arr.Get(i), name + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<int64_t> integers(const Args& a, const Napi::Value& v, const std::string& name) {
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto arr = v.As<Napi::Int32Array>();
    return std::vector<int64_t>(arr.Data(), arr.Data() + arr.ElementLength());
  }
  if (!v.IsArray()) throw a.typeError(name, "a number[] or an Int32Array");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i)
    out.push_back(integer(a, arr.Get(i), name + "[" + std::to_string(i) + "]", -kMaxSafeInteger, kMaxSafeInteger));
  return out;
}

}  // namespace arg

Napi::Array stringArray(Napi::Env env, const std::vector<std::string>& values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), values[i]);
  return out;
}

Napi::Float32Array float32Array(Napi::Env env, const float* data, size_t n) {
  auto out = Napi::Float32Array::New(env, n);
  std::copy(data, data + n, out.Data());
  return out;
}

Napi::Int32Array int32Array(Napi::Env env, const std::vector<int32_t>& values) {
  auto out = Napi::Int32Array::New(env, values.size());
  std::copy(values.begin(), values.end(), out.Data());
  return out;
}

Napi::Array numberArray(Napi::Env env, const std::vector<int64_t>& values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

}  // namespace thtl
