// MobileNetV2 (torchvision.models.mobilenet_v2): inverted residual blocks with linear
// bottlenecks, ReLU6, BatchNorm (eps 1e-5, momentum 0.1), Dropout 0.2 before the head.
// Registered names equal torchvision's state_dict keys ("features.3.conv.1.0.weight").
#include <cmath>
#include <string>

#include "common/errors.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

// torchvision.ops.Conv2dNormActivation(..., activation_layer=nn.ReLU6): children "0"
// (conv, padding (k-1)/2, no bias) and "1" (BatchNorm); the ReLU6 ("2") has no state.
struct ConvBNReLU6Impl : torch::nn::Module {
  ConvBNReLU6Impl(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1) {
    c = register_module("0", conv(in, out, kernel, stride, (kernel - 1) / 2, false, groups));
    bn = register_module("1", batchNorm(out));
  }
  torch::Tensor forward(torch::Tensor x) {
    return bnAct(*bn, c(x), Act::ReLU6);
  }

  torch::nn::Conv2d c{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBNReLU6);

// torchvision.models.mobilenetv2.InvertedResidual: conv = [pw expand] + dw + pw-linear.
struct InvertedResidualImpl : torch::nn::Module {
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expandRatio)
      : useResidual(stride == 1 && in == out) {
    const auto hidden = static_cast<int64_t>(std::lround(static_cast<double>(in * expandRatio)));
    torch::nn::Sequential layers;
    if (expandRatio != 1) layers->push_back(expand = ConvBNReLU6(in, hidden, 1));
    layers->push_back(depthwise = ConvBNReLU6(hidden, hidden, 3, stride, hidden));
    layers->push_back(project = conv(hidden, out, 1));
    layers->push_back(projectBn = batchNorm(out));
    body = register_module("conv", layers);
  }

  // The linear projection's bn and the residual add as one step (nn/bn_act.h).
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor h = depthwise(expand ? expand(x) : x);
    return bnAct(*projectBn, project(h), Act::None, useResidual ? x : torch::Tensor());
  }

  bool useResidual;
  torch::nn::Sequential body{nullptr};  // holds the children below under torchvision's names
  ConvBNReLU6 expand{nullptr}, depthwise{nullptr};
  torch::nn::Conv2d project{nullptr};
  torch::nn::BatchNorm2d projectBn{nullptr};
};
TORCH_MODULE(InvertedResidual);

constexpr int64_t kLastChannel = 1280;
constexpr double kMobileNetDropout = 0.2;

class MobileNetV2 : public Model {
 public:
  explicit MobileNetV2(int64_t numClasses) {
    // t (expansion), c (channels), n (blocks), s (first block's stride): width_mult 1.0,
    // so torchvision's _make_divisible leaves every channel count unchanged.
    struct Row {
      int64_t t, c, n, s;
    };
    const Row rows[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    torch::nn::Sequential f;
    int64_t in = 32;
    f->push_back(ConvBNReLU6(3, in, 3, 2));
    for (const Row& r : rows) {
      for (int64_t i = 0; i < r.n; ++i) {
        f->push_back(InvertedResidual(in, r.c, i == 0 ? r.s : 1, r.t));
        in = r.c;
      }
    }
    f->push_back(ConvBNReLU6(in, kLastChannel, 1));
    features = register_module("features", f);
    classifier = register_module("classifier", std::make_shared<torch::nn::Module>());
    fc = classifier->register_module("1", makeHead(numClasses));  // "0" is the Dropout
    initConvAndNorm(*this);
    declareTaps({"stem", "stage1", "stage2", "stage3", "stage4", "stage5"});
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(1) != 3)
      throw UserError("mobilenet_v2 expects input [N, 3, H, W], got " + shapeOf(x));
    // each stage tapped at its last block (features index -> stage)
    static const SequentialTaps kTaps = {{0, "stem"},   {1, "stage1"},  {3, "stage2"},
                                         {6, "stage3"}, {13, "stage4"}, {18, "stage5"}};
    x = forwardTapped(features, x, kTaps);
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    x = torch::dropout(x, kMobileNetDropout, is_training());
    return fc(x);
  }

  void replaceHead(int64_t numClasses) override {
    fc = classifier->replace_module("1", makeHead(numClasses));
  }

  int64_t numClasses() const override { return fc->options.out_features(); }

 private:
  // torchvision's Linear init for MobileNetV2: weight N(0, 0.01), bias 0.
  static torch::nn::Linear makeHead(int64_t numClasses) {
    torch::nn::Linear head(kLastChannel, numClasses);
    torch::NoGradGuard noGrad;
    torch::nn::init::normal_(head->weight, 0.0, 0.01);
    torch::nn::init::zeros_(head->bias);
    return head;
  }

  torch::nn::Sequential features{nullptr};
  std::shared_ptr<torch::nn::Module> classifier;
  torch::nn::Linear fc{nullptr};
};

ModelInfo mobilenetV2Info() {
  ModelInfo info;
  info.name = "mobilenet_v2";
  info.imagenetWeights = "mobilenet_v2-b0353104.pth";
  info.inputSize = 224;
  info.fixedInputSize = false;  // fully convolutional up to a global average pool
  info.bf16NeedsLibTorch2 = true;  // "hardshrink_backward_cpu" not implemented for 'BFloat16' on 1.13
  info.defaultLr = 1e-3;
  info.headPrefixes = {"classifier.1."};
  // Stages by output resolution at 224: stem/stage1 112, stage2 56, stage3 28,
  // stage4 14 (features.7-13), stage5 7 (features.14-17 plus the 1x1 conv features.18).
  info.groups = {
      {"classifier", {"classifier."}},
      {"stage5", {"features.14.", "features.15.", "features.16.", "features.17.", "features.18."}},
      {"stage4",
       {"features.7.", "features.8.", "features.9.", "features.10.", "features.11.", "features.12.",
        "features.13."}},
      {"stage3", {"features.4.", "features.5.", "features.6."}},
      {"stage2", {"features.2.", "features.3."}},
      {"stage1", {"features.1."}},
      {"stem", {"features.0."}},
  };
  info.camLayers = {"stage2", "stage3", "stage4", "stage5"};
  info.imagenetParams = 3504872;
  return info;
}

}  // namespace

std::vector<RegistryEntry> mobilenetEntries() {
  return {{mobilenetV2Info(), [](int64_t n) { return std::make_shared<MobileNetV2>(n); }}};
}

}  // namespace thtl::models
