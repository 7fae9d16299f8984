// Evaluation, features, predictions and LayerCAM: eval-mode passes without gradients.
#include "train/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/fs.h"
#include "common/torch_compat.h"
#include "train/session_internal.h"

namespace thtl::train {

using namespace detail;

EvalResult Session::evaluate(const data::ImageCache& images, const std::vector<int32_t>& labels,
                             int64_t batchSize, const BatchProgress& progress) {
  return withPrecisionHint([&] { return evaluateImpl(images, labels, batchSize, progress); });
}

int64_t Session::evalBatches(const data::ImageCache& images, int64_t batchSize, const EvalBatchFn& fn) {
  if (batchSize < 1) throw UserError("batch size must be at least 1");
  const std::vector<int64_t> order = usableIndices(images);
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t batches = (n + batchSize - 1) / batchSize;
  torch::NoGradGuard noGrad;
  useLayout(channelsLast_);
  model_->eval();
  lora_.refresh();  // no-grad: merged weights without graph
  std::mt19937_64 unused(0);
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t lo = b * batchSize, hi = std::min(n, lo + batchSize);
    const std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
    fn(idx, inModelLayout(batchOnDevice(images, idx, /*augment=*/false, unused)), b + 1, batches);
  }
  return n;
}

EvalResult Session::evaluateImpl(const data::ImageCache& images, const std::vector<int32_t>& labels,
                                 int64_t batchSize, const BatchProgress& progress) {
  checkLabels(images, labels);
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r;
  r.numClasses = numClasses();
  double lossSum = 0;
  int64_t seen = 0;
  r.n = evalBatches(images, batchSize, [&](const std::vector<int64_t>& idx, const torch::Tensor& x, int64_t b, int64_t batches) {
    seen += static_cast<int64_t>(idx.size());
    torch::Tensor y = labelTensor(labels, idx).to(device_, /*non_blocking=*/true);
    torch::Tensor logits;
    {
      auto amp = autocast();
      logits = model_->forward(x);
    }
    logits = logits.to(torch::kFloat);
    lossSum += torch::nn::functional::cross_entropy(
                   logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .item<double>();
    torch::Tensor p = torch::softmax(logits, 1).to(torch::kCPU, torch::kFloat).contiguous();
    r.probs.insert(r.probs.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    for (int64_t i : idx) {
      r.labels.push_back(labels[static_cast<size_t>(i)]);
      r.indices.push_back(static_cast<int32_t>(i));
    }
    if (progress) progress(b, batches, lossSum / static_cast<double>(seen));
  });
  r.loss = r.n > 0 ? lossSum / static_cast<double>(r.n) : 0.0;
  r.seconds = secondsSince(t0);
  return r;
}

FeatureResult Session::features(const data::ImageCache& images, int64_t batchSize, const std::string& layer,
                                const BatchProgress& progress) {
  const auto& names = model_->camLayerNames();
  if (names.empty()) throw UserError(info().name + " has no layer to take features from");
  const std::string group = layer.empty() ? names.back() : layer;
  if (std::find(names.begin(), names.end(), group) == names.end())
    throw UserError("features: " + info().name + " has no layer '" + group + "' (layers: " + joinNames(names, ", ") + ")");
  return withPrecisionHint([&] {
    const auto t0 = std::chrono::steady_clock::now();
    FeatureResult r;
    r.layer = group;
    r.n = evalBatches(images, batchSize, [&](const std::vector<int64_t>& idx, const torch::Tensor& x, int64_t b, int64_t batches) {
      models::TapMap taps{{group, {}}};
      model_->attachTaps(&taps);
      try {
        auto amp = autocast();
        model_->forward(x);
      } catch (...) {
        model_->detachTaps();
        throw;
      }
      model_->detachTaps();
      const models::Tapped& t = taps.at(group);
      torch::Tensor f;
      switch (t.layout) {
        case models::FeatureLayout::NCHW: f = t.tensor.mean({2, 3}); break;
        case models::FeatureLayout::NHWC: f = t.tensor.mean({1, 2}); break;
        case models::FeatureLayout::Tokens: f = t.tensor.narrow(1, 1, t.tensor.size(1) - 1).mean(1); break;
      }
      f = f.to(torch::kCPU, torch::kFloat).contiguous();
      r.dim = f.size(1);
      r.features.insert(r.features.end(), f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
      for (int64_t i : idx) r.indices.push_back(static_cast<int32_t>(i));
      if (progress) progress(b, batches, 0.0);
    });
    r.seconds = secondsSince(t0);
    return r;
  });
}

torch::Tensor Session::predict(const torch::Tensor& input) {
  return withPrecisionHint([&] {
    torch::NoGradGuard noGrad;
    useLayout(channelsLast_);
    model_->eval();
    lora_.refresh();
    auto amp = autocast();
    return model_->forward(inModelLayout(input.to(device_, torch::kFloat))).to(torch::kCPU, torch::kFloat);
  });
}

cam::CamResult Session::layerCam(const torch::Tensor& input, const std::vector<std::string>& layers,
                                 const std::vector<int64_t>& classes, const std::string& fusion) {
  useLayout(channelsLast_);
  model_->eval();
  {
    // Adapted weights without a graph: LayerCAM needs gradients of activations only
    // (Model::tap makes an activation without a graph a leaf that requires grad).
    torch::NoGradGuard noGrad;
    refreshAdapters();
  }
  return cam::layerCam(*model_, device_, input, layers.empty() ? entry_->info.camLayers : layers, classes,
                       fusion, entry_->info.name);
}

cam::CamResult Session::layerCamImages(const data::ImageCache& images, const std::vector<int64_t>& indices,
                                       const std::vector<std::string>& layers,
                                       const std::vector<int64_t>& classes, const std::string& fusion) {
  if (indices.empty()) throw UserError("layerCamImages needs at least one image index");
  const auto count = static_cast<int64_t>(images.files.size());
  for (int64_t i : indices) {
    if (i < 0 || i >= count)
      throw UserError("image index " + std::to_string(i) + " is outside 0.." + std::to_string(count - 1));
    for (const auto& f : images.failures)
      if (static_cast<int64_t>(f.index) == i)
        throw UserError("image " + std::to_string(i) + " (" + f.file + ") could not be decoded: " + f.reason);
  }
  std::mt19937_64 unused(0);
  torch::Tensor x = batchOnDevice(images, indices, /*augment=*/false, unused);  // as evaluate() does
  return layerCam(x, layers, classes, fusion);
}

}  // namespace thtl::train
