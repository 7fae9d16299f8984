#include "cam/layercam.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/errors.h"

namespace thtl::cam {
namespace {

// Detaches the taps however the forward pass ends.
struct TapScope {
  TapScope(models::Model& m, models::TapMap* taps) : model(m) { model.attachTaps(taps); }
  ~TapScope() { model.detachTaps(); }
  models::Model& model;
};

// ReLU(sum_k ReLU(g_k) A_k), upsampled to (H, W), min-max normalised per image: [N, H, W].
torch::Tensor layerMap(const torch::Tensor& a, const torch::Tensor& g, int64_t height, int64_t width) {
  namespace F = torch::nn::functional;
  torch::Tensor m = torch::relu((torch::relu(g) * a).sum(1, /*keepdim=*/true));  // [N, 1, h, w]
  m = F::interpolate(m, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{height, width})
                            .mode(torch::kBilinear)
                            .align_corners(false));
  torch::Tensor flat = m.flatten(1);  // [N, H*W]
  torch::Tensor lo = std::get<0>(flat.min(1, /*keepdim=*/true));
  torch::Tensor hi = std::get<0>(flat.max(1, /*keepdim=*/true));
  torch::Tensor range = hi - lo;
  torch::Tensor norm = torch::where(range > 0, (flat - lo) / range, torch::zeros_like(flat));
  return norm.view({m.size(0), height, width});
}

}  // namespace

torch::Tensor toNCHW(const torch::Tensor& t, models::FeatureLayout layout) {
  switch (layout) {
    case models::FeatureLayout::NCHW:
      return t;
    case models::FeatureLayout::NHWC:
      return t.permute({0, 3, 1, 2});
    case models::FeatureLayout::Tokens: {
      const int64_t n = t.size(0), patches = t.size(1) - 1, c = t.size(2);
      const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(patches))));
      if (side * side != patches)
        throw std::logic_error("LayerCAM: " + std::to_string(patches) + " patch tokens do not form a square grid");
      return t.slice(1, 1).transpose(1, 2).reshape({n, c, side, side});
    }
  }
  return t;
}

CamResult layerCam(models::Model& model, const torch::Device& device, const torch::Tensor& input,
                   const std::vector<std::string>& layers, const std::vector<int64_t>& classes,
                   const std::string& fusion, const std::string& modelName) {
  const auto& valid = model.camLayerNames();
  if (layers.empty()) throw UserError("LayerCAM needs at least one layer (layers of " + modelName + ": " + joinNames(valid) + ")");
  for (const auto& l : layers)
    if (std::find(valid.begin(), valid.end(), l) == valid.end())
      throw UserError("unknown LayerCAM layer '" + l + "' for " + modelName + " (valid layers: " + joinNames(valid) + ")");
  if (fusion != "none" && fusion != "max" && fusion != "mean")
    throw UserError("unknown LayerCAM fusion '" + fusion + "' (expected none, max or mean)");
  if (input.dim() != 4 || input.size(1) != 3 || input.size(0) < 1) {
    std::ostringstream shape;
    shape << input.sizes();
    throw UserError("LayerCAM input must be a batch [N, 3, H, W] with N >= 1, got " + shape.str());
  }
  const int64_t n = input.size(0), height = input.size(2), width = input.size(3);
  if (!classes.empty() && static_cast<int64_t>(classes.size()) != n)
    throw UserError("LayerCAM got " + std::to_string(classes.size()) + " classes for " + std::to_string(n) +
                    " images (give one per image, -1 for the predicted class)");

  torch::AutoGradMode gradOn(true);
  model.eval();
  models::TapMap taps;
  for (const auto& l : layers) taps[l] = {};
  torch::Tensor logits;
  {
    TapScope scope(model, &taps);
    logits = model.forward(input.to(device, torch::kFloat));
  }
  const int64_t numClasses = logits.size(1);

  CamResult r;
  r.layers = layers;
  torch::Tensor predicted = logits.detach().argmax(1).to(torch::kCPU);
  r.classes.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t asked = classes.empty() ? -1 : classes[static_cast<size_t>(i)];
    if (asked < -1 || asked >= numClasses)
      throw UserError("LayerCAM class " + std::to_string(asked) + " for image " + std::to_string(i) +
                      " is outside 0.." + std::to_string(numClasses - 1) + " (or -1 for the predicted class)");
    r.classes[static_cast<size_t>(i)] = asked == -1 ? predicted[i].item<int64_t>() : asked;
  }

  // Unique tapped tensors, in the order asked for.
  std::vector<std::string> order;
  std::vector<torch::Tensor> acts;
  for (const auto& l : layers) {
    if (std::find(order.begin(), order.end(), l) != order.end()) continue;
    const models::Tapped& t = taps.at(l);
    if (!t.tensor.defined())
      throw std::logic_error("LayerCAM: layer '" + l + "' of " + modelName + " was not recorded by the forward pass");
    order.push_back(l);
    acts.push_back(t.tensor);
  }
  torch::Tensor index = torch::tensor(r.classes, torch::kLong).to(logits.device()).view({n, 1});
  torch::Tensor score = logits.gather(1, index).sum();
  std::vector<torch::Tensor> grads = torch::autograd::grad({score}, acts, /*grad_outputs=*/{},
                                                           /*retain_graph=*/false, /*create_graph=*/false,
                                                           /*allow_unused=*/true);

  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> maps;
  for (const auto& l : layers) {
    const size_t k = static_cast<size_t>(std::find(order.begin(), order.end(), l) - order.begin());
    const models::Tapped& t = taps.at(l);
    torch::Tensor a = toNCHW(t.tensor.detach(), t.layout).to(torch::kFloat);
    torch::Tensor g = grads[k].defined() ? toNCHW(grads[k], t.layout).to(torch::kFloat) : torch::zeros_like(a);
    maps.push_back(layerMap(a, g, height, width));
  }
  torch::Tensor stacked = torch::stack(maps, 1);  // [N, L, H, W]
  if (fusion == "max") r.fused = std::get<0>(stacked.max(1)).to(torch::kCPU).contiguous();
  else if (fusion == "mean") r.fused = stacked.mean(1).to(torch::kCPU).contiguous();
  r.maps = stacked.to(torch::kCPU).contiguous();
  r.probs = torch::softmax(logits.detach(), 1).to(torch::kCPU, torch::kFloat).contiguous();
  return r;
}

}  // namespace thtl::cam
