// DenseNet-BC (torchvision.models.densenet121 / densenet169, memory_efficient=False: no
// checkpointing). Registered names equal the CURRENT torchvision state_dict keys
// ("features.denseblock1.denselayer1.norm1.weight"), which is what model.state_dict() saves.
//
// torchvision's published ImageNet files (densenet121-a639ec97.pth, densenet169-b2777c0a.pth)
// still use the old keys "...denselayerN.norm.1.weight", "conv.2.weight", ...; torchvision
// renames them when it downloads (_load_state_dict): a key matching
//   ^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$
// becomes group1 + group2, i.e. "norm.1.weight" -> "norm1.weight". Those old files also
// lack num_batches_tracked.
#include <regex>
#include <sstream>
#include <string>

#include "common/errors.h"

#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

constexpr int64_t kGrowth = 32;
constexpr int64_t kBnSize = 4;
constexpr int64_t kInitFeatures = 64;
constexpr int64_t kMinSize = 29;  // five stride-2 stages must leave at least one pixel

// _DenseLayer: BN-ReLU-Conv1x1 (bottleneck, bn_size * growth) then BN-ReLU-Conv3x3 (growth).
// drop_rate is 0 in torchvision's densenet121/169, so there is no dropout.
struct DenseLayerImpl : torch::nn::Module {
  explicit DenseLayerImpl(int64_t in) {
    norm1 = register_module("norm1", batchNorm(in));
    conv1 = register_module("conv1", conv(in, kBnSize * kGrowth, 1));
    norm2 = register_module("norm2", batchNorm(kBnSize * kGrowth));
    conv2 = register_module("conv2", conv(kBnSize * kGrowth, kGrowth, 3, 1, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return conv2(bnAct(*norm2, conv1(bnAct(*norm1, x, Act::ReLU)), Act::ReLU));
  }
  torch::nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

// _DenseBlock: every layer sees the concatenation of the block input and all earlier outputs.
struct DenseBlockImpl : torch::nn::Module {
  DenseBlockImpl(int64_t layers, int64_t in) {
    for (int64_t i = 0; i < layers; ++i)
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1), DenseLayer(in + i * kGrowth)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> features{x};
    features.reserve(layers_.size() + 1);
    for (auto& layer : layers_) features.push_back(layer(features.size() == 1 ? x : torch::cat(features, 1)));
    return torch::cat(features, 1);
  }
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

// _Transition: BN-ReLU-Conv1x1 halving the channels, then 2x2 average pooling.
struct TransitionImpl : torch::nn::Module {
  TransitionImpl(int64_t in, int64_t out) {
    norm = register_module("norm", batchNorm(in));
    conv_ = register_module("conv", conv(in, out, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::avg_pool2d(conv_(bnAct(*norm, x, Act::ReLU)), 2, 2);
  }
  torch::nn::BatchNorm2d norm{nullptr};
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Transition);

class DenseNet : public Model {
 public:
  DenseNet(std::string name, const std::vector<int64_t>& blockConfig, int64_t numClasses) : name_(std::move(name)) {
    features = register_module("features", std::make_shared<torch::nn::Module>());
    conv0 = features->register_module("conv0", conv(3, kInitFeatures, 7, 2, 3));
    norm0 = features->register_module("norm0", batchNorm(kInitFeatures));
    int64_t channels = kInitFeatures;
    for (size_t i = 0; i < blockConfig.size(); ++i) {
      blocks_.push_back(
          features->register_module("denseblock" + std::to_string(i + 1), DenseBlock(blockConfig[i], channels)));
      channels += blockConfig[i] * kGrowth;
      if (i + 1 != blockConfig.size()) {
        transitions_.push_back(
            features->register_module("transition" + std::to_string(i + 1), Transition(channels, channels / 2)));
        channels /= 2;
      }
    }
    norm5 = features->register_module("norm5", batchNorm(channels));
    channels_ = channels;
    classifier = register_module("classifier", makeHead(numClasses));
    std::vector<std::string> taps{"stem"};
    for (size_t i = 0; i < blockConfig.size(); ++i) taps.push_back("denseblock" + std::to_string(i + 1));
    declareTaps(taps);

    // torchvision's init: conv kaiming_normal_ (fan_in, gain sqrt(2)), BatchNorm 1/0; the
    // Linear keeps PyTorch's default weight init with a zero bias (makeHead).
    torch::NoGradGuard noGrad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanIn, torch::kLeakyReLU);
      } else if (auto* b = m->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(b->weight);
        torch::nn::init::zeros_(b->bias);
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(1) != 3)
      throw UserError(name_ + " expects input [N, 3, H, W], got " + shapeOf(x));
    if (x.size(2) < kMinSize || x.size(3) < kMinSize)
      throw UserError(name_ + " takes inputs of at least " + std::to_string(kMinSize) + "x" +
                      std::to_string(kMinSize) + " (224x224 is what it was trained at), got " + shapeOf(x));
    // Taps: a group's output is what its last module hands on; denseblock4 (with norm5)
    // is tapped after the final ReLU, the features the classifier pools.
    static const char* const kBlockNames[4] = {"denseblock1", "denseblock2", "denseblock3", "denseblock4"};
    x = torch::max_pool2d(tap("stem", bnAct(*norm0, conv0(x), Act::ReLU)), 3, 2, 1);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      x = blocks_[i](x);
      if (i + 1 < blocks_.size()) x = tap(kBlockNames[i], x);
      if (i < transitions_.size()) x = transitions_[i](x);
    }
    x = tap(kBlockNames[blocks_.size() - 1], bnAct(*norm5, x, Act::ReLU));
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    return classifier(x);
  }

  void replaceHead(int64_t numClasses) override {
    classifier = replace_module("classifier", makeHead(numClasses));
  }

  int64_t numClasses() const override { return classifier->options.out_features(); }

 private:
  torch::nn::Linear makeHead(int64_t numClasses) const {
    torch::nn::Linear head(channels_, numClasses);
    torch::NoGradGuard noGrad;
    torch::nn::init::zeros_(head->bias);
    return head;
  }

  std::string name_;
  int64_t channels_ = 0;
  std::shared_ptr<torch::nn::Module> features;
  torch::nn::Conv2d conv0{nullptr};
  torch::nn::BatchNorm2d norm0{nullptr}, norm5{nullptr};
  std::vector<DenseBlock> blocks_;
  std::vector<Transition> transitions_;
  torch::nn::Linear classifier{nullptr};
};

// Groups: the classifier, then one group per dense block holding the transition that
// feeds it (as ResNet's stages hold their downsampling), the last also norm5; the stem.
ModelInfo densenetInfo(const std::string& name, int64_t params, const char* weights) {
  ModelInfo info;
  info.name = name;
  info.imagenetWeights = weights;
  info.inputSize = 224;
  info.fixedInputSize = false;  // global average pooling: any size >= 29
  info.defaultLr = 1e-3;
  info.headPrefixes = {"classifier."};
  info.groups = {
      {"classifier", {"classifier."}},
      {"denseblock4", {"features.transition3.", "features.denseblock4.", "features.norm5."}},
      {"denseblock3", {"features.transition2.", "features.denseblock3."}},
      {"denseblock2", {"features.transition1.", "features.denseblock2."}},
      {"denseblock1", {"features.denseblock1."}},
      {"stem", {"features.conv0.", "features.norm0."}},
  };
  info.camLayers = {"denseblock2", "denseblock3", "denseblock4"};
  // torchvision's published DenseNet files predate today's layer names; torchvision
  // renames their keys with this pattern when it loads them, and so do we.
  info.legacyKeyName = [](const std::string& key) {
    static const std::regex pattern(
        R"(^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$)");
    std::smatch m;
    return std::regex_match(key, m, pattern) ? m[1].str() + m[2].str() : key;
  };
  info.imagenetParams = params;
  return info;
}

}  // namespace

std::vector<RegistryEntry> densenetEntries() {
  return {
      {densenetInfo("densenet121", 7978856, "densenet121-a639ec97.pth"),
       [](int64_t n) { return std::make_shared<DenseNet>("densenet121", std::vector<int64_t>{6, 12, 24, 16}, n); }},
      {densenetInfo("densenet169", 14149480, "densenet169-b2777c0a.pth"),
       [](int64_t n) { return std::make_shared<DenseNet>("densenet169", std::vector<int64_t>{6, 12, 32, 32}, n); }},
  };
}

}  // namespace thtl::models
