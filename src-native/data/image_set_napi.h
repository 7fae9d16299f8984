// The JS-visible ImageSet: an ImageCache behind a Napi::ObjectWrap, so a Session can
// train on it without copying pixels through JavaScript.
#pragma once
#include <napi.h>

#include <memory>

#include "napi/args.h"
#include "data/images.h"

namespace thtl::data {

class ImageSet : public Napi::ObjectWrap<ImageSet> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ImageSet(const Napi::CallbackInfo& info);

  // The cache behind the ImageSet that is argument `i` of a call; a TypeError naming the
  // call when it is not an ImageSet.
  static std::shared_ptr<ImageCache> cacheOf(const Args& args, size_t i);

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
