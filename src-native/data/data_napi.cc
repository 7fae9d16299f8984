// data/ exports: ImageSet, decodeResized, encodeImage.
#include <cstring>

#include "napi/guard.h"
#include "napi/args.h"
#include "napi/register.h"
#include "data/image_set_napi.h"
#include "data/images.h"

namespace thtl {
namespace {

// decodeResized(path, size) -> Uint8Array (CHW, 3 * size * size)
Napi::Value DecodeResized(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Args a(info, "decodeResized");
  const std::string path = a.path(0, "path");
  const int64_t size = a.integer(1, "size", 1, 16384);
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
  const Args a(info, "encodeImage");
  const std::string path = a.path(0, "path");
  if (!a[1].IsTypedArray() || a[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw a.typeError("rgb", "a Uint8Array");
  Napi::Uint8Array rgb = a[1].As<Napi::Uint8Array>();
  const int width = static_cast<int>(a.integer(2, "width", 1, 65535));
  const int height = static_cast<int>(a.integer(3, "height", 1, 65535));
  const int quality = a.has(4) ? static_cast<int>(a.integer(4, "quality", 1, 100)) : 92;
  const size_t need = static_cast<size_t>(width) * height * 3;
  if (rgb.ElementLength() < need)
    throw a.rangeError("rgb has " + std::to_string(rgb.ElementLength()) + " bytes, " + std::to_string(width) +
                       "x" + std::to_string(height) + "x3 needs " + std::to_string(need));
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
