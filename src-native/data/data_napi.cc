// data/ exports: ImageSet, decodeResized, encodeImage.
#include <cmath>
#include <cstring>

#include "common/errors.h"
#include "common/register.h"
#include "data/image_set.h"
#include "data/images.h"

namespace thtl {
namespace {

std::string pathArg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsString() || info[0].As<Napi::String>().Utf8Value().empty())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": path must be a non-empty string");
  return info[0].As<Napi::String>().Utf8Value();
}

int intArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, int lo, int hi) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || v < lo || v > hi)
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + what + " must be an integer in " +
                                                std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(v);
}

// decodeResized(path, size) -> Uint8Array (CHW, 3 * size * size)
Napi::Value DecodeResized(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = pathArg(info, "decodeResized");
  const int size = intArg(info, 1, "decodeResized", "size", 1, 16384);
  return guard(env, "decodeResized", [&]() -> Napi::Value {
    const torch::Tensor img = data::decodeResized(path, size);
    const size_t n = static_cast<size_t>(img.numel());
    Napi::Uint8Array out = Napi::Uint8Array::New(env, n);
    std::memcpy(out.Data(), img.data_ptr<uint8_t>(), n);
    return out;
  });
}

// encodeImage(path, rgb: Uint8Array (HWC), width, height, quality = 92)
Napi::Value EncodeImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = pathArg(info, "encodeImage");
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "encodeImage: rgb must be a Uint8Array");
  Napi::Uint8Array rgb = info[1].As<Napi::Uint8Array>();
  const int width = intArg(info, 2, "encodeImage", "width", 1, 65535);
  const int height = intArg(info, 3, "encodeImage", "height", 1, 65535);
  int quality = 92;
  if (info.Length() > 4 && !info[4].IsUndefined()) quality = intArg(info, 4, "encodeImage", "quality", 1, 100);
  const size_t need = static_cast<size_t>(width) * height * 3;
  if (rgb.ElementLength() < need)
    throw Napi::RangeError::New(env, "encodeImage: rgb has " + std::to_string(rgb.ElementLength()) +
                                         " bytes, " + std::to_string(width) + "x" +
                                         std::to_string(height) + "x3 needs " + std::to_string(need));
  guard(env, "encodeImage", [&] { data::encodeImage(path, rgb.Data(), width, height, quality); });
  return env.Undefined();
}

}  // namespace

void registerData(Napi::Env env, Napi::Object exports) {
  exports.Set("ImageSet", data::ImageSet::Define(env));
  exports.Set("decodeResized", Napi::Function::New(env, DecodeResized, "decodeResized"));
  exports.Set("encodeImage", Napi::Function::New(env, EncodeImage, "encodeImage"));
}

}  // namespace thtl
