// The JS-visible ImageSet: an ImageCache behind a Napi::ObjectWrap, so a Session can
// train on it without copying pixels through JavaScript.
#pragma once
#include <napi.h>

#include <memory>

#include "data/images.h"

namespace thtl::data {

class ImageSet : public Napi::ObjectWrap<ImageSet> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ImageSet(const Napi::CallbackInfo& info);

  // The cache behind a JS ImageSet; throws Napi::TypeError naming `what` when `value`
  // is not an ImageSet.
  static std::shared_ptr<ImageCache> cacheOf(const Napi::Value& value, const char* what);

  std::shared_ptr<ImageCache> cache;

 private:
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Failures(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Pixels(const Napi::CallbackInfo& info);
  Napi::Value Batch(const Napi::CallbackInfo& info);
};

}  // namespace thtl::data
