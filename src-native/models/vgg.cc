// VGG-19 without BatchNorm (torchvision.models.vgg19, configuration "E"). Registered names
// equal torchvision's state_dict keys: "features.N.weight" for the 16 convs (nn.Sequential
// indices counting the parameter-free ReLU/MaxPool entries) and "classifier.0/3/6" for the
// three Linear layers (the ReLU/Dropout entries 1, 2, 4, 5 hold no state).
#include <sstream>
#include <string>

#include "common/errors.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

constexpr double kVggDropout = 0.5;
constexpr int64_t kMinSize = 32;  // five 2x2 max-pools must leave at least one pixel
constexpr int64_t kHidden = 4096;
// Configuration "E": channel counts, 0 = 2x2 max-pool.
const std::vector<int64_t> kConfigE = {64,  64,  0,   128, 128, 0,   256, 256, 256, 256, 0,
                                       512, 512, 512, 512, 0,   512, 512, 512, 512, 0};

// torchvision's Linear init for VGG: weight N(0, 0.01), bias 0.
torch::nn::Linear makeLinear(int64_t in, int64_t out) {
  torch::nn::Linear fc(in, out);
  torch::NoGradGuard noGrad;
  torch::nn::init::normal_(fc->weight, 0.0, 0.01);
  torch::nn::init::zeros_(fc->bias);
  return fc;
}

class VGG : public Model {
 public:
  explicit VGG(int64_t numClasses) {
    torch::nn::Sequential f;
    int64_t in = 3;
    for (int64_t v : kConfigE) {
      if (v == 0) {
        // block k is tapped at its last ReLU, just before its max-pool (the block's
        // highest-resolution map)
        blockTaps_.emplace_back(f->size() - 1, "block" + std::to_string(blockTaps_.size() + 1));
        f->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      } else {
        f->push_back(conv(in, v, 3, 1, 1, /*bias=*/true));
        f->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(/*inplace=*/true)));
        in = v;
      }
    }
    features = register_module("features", f);
    classifier = register_module("classifier", std::make_shared<torch::nn::Module>());
    fc0 = classifier->register_module("0", makeLinear(512 * 7 * 7, kHidden));
    fc3 = classifier->register_module("3", makeLinear(kHidden, kHidden));
    fc6 = classifier->register_module("6", makeLinear(kHidden, numClasses));
    initConvAndNorm(*this);  // conv kaiming_normal_(fan_out, relu), bias 0
    declareTaps({"block1", "block2", "block3", "block4", "block5"});
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(1) != 3)
      throw UserError("vgg19 expects input [N, 3, H, W], got " + shapeOf(x));
    if (x.size(2) < kMinSize || x.size(3) < kMinSize)
      throw UserError("vgg19 takes inputs of at least " + std::to_string(kMinSize) + "x" +
                      std::to_string(kMinSize) + " (224x224 is what it was trained at), got " + shapeOf(x));
    x = forwardTapped(features, x, blockTaps_);
    x = torch::adaptive_avg_pool2d(x, {7, 7}).flatten(1);
    x = torch::dropout(fc0(x).relu_(), kVggDropout, is_training());
    x = torch::dropout(fc3(x).relu_(), kVggDropout, is_training());
    return fc6(x);
  }

  void replaceHead(int64_t numClasses) override {
    fc6 = classifier->replace_module("6", makeLinear(kHidden, numClasses));
  }

  int64_t numClasses() const override { return fc6->options.out_features(); }

 private:
  torch::nn::Sequential features{nullptr};
  SequentialTaps blockTaps_;  // each block's last ReLU
  std::shared_ptr<torch::nn::Module> classifier;
  torch::nn::Linear fc0{nullptr}, fc3{nullptr}, fc6{nullptr};
};

// "features.I." for every conv of block `block` (1-based; blocks end at the max-pools).
std::vector<std::string> blockPrefixes(size_t block) {
  std::vector<std::string> out;
  size_t index = 0, current = 1;
  for (int64_t v : kConfigE) {
    if (v == 0) {
      ++index;
      ++current;
    } else {
      if (current == block) out.push_back("features." + std::to_string(index) + ".");
      index += 2;
    }
  }
  return out;
}

}  // namespace

std::vector<RegistryEntry> vggEntries() {
  ModelInfo info;
  info.name = "vgg19";
  info.imagenetWeights = "vgg19-dcbb9e9d.pth";
  info.inputSize = 224;
  info.fixedInputSize = false;  // AdaptiveAvgPool2d(7, 7) before the classifier: any size >= 32
  // fp32 training step in channels_last against NCHW (batch 8, 2 threads): 7-16% slower on
  // LibTorch 1.13, 2% faster on 2.13; NCHW stays its CPU default
  info.cpuChannelsLast = false;
  info.defaultLr = 1e-4;
  info.headPrefixes = {"classifier.6."};
  // The last Linear, the two hidden Linear layers, then the five conv blocks (split at the
  // max-pools: block5 = features.28-34, ..., block1 = features.0/2).
  info.groups = {{"classifier.6", {"classifier.6."}},
                 {"classifier", {"classifier.0.", "classifier.3."}},
                 {"block5", blockPrefixes(5)},
                 {"block4", blockPrefixes(4)},
                 {"block3", blockPrefixes(3)},
                 {"block2", blockPrefixes(2)},
                 {"block1", blockPrefixes(1)}};
  info.camLayers = {"block3", "block4", "block5"};
  info.imagenetParams = 143667240;
  return {{info, [](int64_t n) { return std::make_shared<VGG>(n); }}};
}

}  // namespace thtl::models
