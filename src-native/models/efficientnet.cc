// EfficientNetV2-S (torchvision.models.efficientnet_v2_s): Fused-MBConv stages then MBConv
// stages with Squeeze-and-Excitation, SiLU, BatchNorm(eps 1e-3, momentum 0.1), stochastic
// depth 0.2 scaled linearly over the block index, Dropout 0.2 before the head.
// Registered names equal torchvision's state_dict keys ("features.4.0.block.2.fc1.weight").
#include <cmath>
#include <string>

#include "common/errors.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

constexpr double kBnEps = 1e-3;
constexpr double kStochasticDepth = 0.2;
constexpr double kEfficientNetDropout = 0.2;
constexpr int64_t kLastChannel = 1280;

// torchvision.ops.Conv2dNormActivation with norm_layer=BatchNorm2d(eps=1e-3) and SiLU (or no
// activation): children "0" (conv, padding (k-1)/2, no bias) and "1" (BatchNorm).
struct ConvBNActImpl : torch::nn::Module {
  ConvBNActImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups, bool silu)
      : silu(silu) {
    c = register_module("0", conv(in, out, kernel, stride, (kernel - 1) / 2, false, groups));
    bn = register_module("1", batchNorm(out, kBnEps));
  }
  torch::Tensor forward(torch::Tensor x) {
    return bnAct(*bn, c(x), silu ? Act::SiLU : Act::None);
  }

  bool silu;
  torch::nn::Conv2d c{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBNAct);

// torchvision.ops.SqueezeExcitation(channels, squeeze, activation=SiLU): x * sigmoid(fc2(silu(fc1(pool(x))))).
struct SqueezeExcitationImpl : torch::nn::Module {
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze) {
    fc1 = register_module("fc1", conv(channels, squeeze, 1, 1, 0, /*bias=*/true));
    fc2 = register_module("fc2", conv(squeeze, channels, 1, 1, 0, /*bias=*/true));
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor s = torch::adaptive_avg_pool2d(x, {1, 1});
    s = fc1(s);
    s = torch::sigmoid(fc2(torch::silu_(s)));
    return s * x;
  }

  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

// torchvision's _make_divisible(v, 8): the nearest multiple of 8, at least 8 and not
// below 90% of v.
int64_t makeDivisible(double v) {
  int64_t r = std::max<int64_t>(8, static_cast<int64_t>(v + 4.0) / 8 * 8);
  if (static_cast<double>(r) < 0.9 * v) r += 8;
  return r;
}

// One stage row of torchvision's _efficientnet_conf("efficientnet_v2_s").
struct StageConfig {
  bool fused;
  int64_t expandRatio, kernel, stride, in, out, layers;
};

// FusedMBConv and MBConv share one module type: "block" holds torchvision's Sequential
// (Fused: [expand kxk, project 1x1] or a single kxk conv; MBConv: [expand 1x1], dw kxk,
// SE, project 1x1), then row-mode stochastic depth on the residual branch.
struct MBConvImpl : torch::nn::Module {
  MBConvImpl(const StageConfig& c, int64_t in, int64_t stride, double sdProb)
      : useResidual(stride == 1 && in == c.out), sdProb(sdProb) {
    const int64_t expanded = makeDivisible(static_cast<double>(in * c.expandRatio));
    torch::nn::Sequential layers;
    if (c.fused) {
      if (expanded != in) {
        layers->push_back(ConvBNAct(in, expanded, c.kernel, stride, 1, true));
        layers->push_back(ConvBNAct(expanded, c.out, 1, 1, 1, false));
      } else {
        layers->push_back(ConvBNAct(in, c.out, c.kernel, stride, 1, true));
      }
    } else {
      if (expanded != in) layers->push_back(ConvBNAct(in, expanded, 1, 1, 1, true));
      layers->push_back(ConvBNAct(expanded, expanded, c.kernel, stride, expanded, true));
      layers->push_back(SqueezeExcitation(expanded, std::max<int64_t>(1, in / 4)));
      layers->push_back(ConvBNAct(expanded, c.out, 1, 1, 1, false));
    }
    block = register_module("block", layers);
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = block->forward(x);
    if (useResidual) {
      out = stochasticDepth(out, sdProb, is_training());
      out += x;
    }
    return out;
  }

  bool useResidual;
  double sdProb;
  torch::nn::Sequential block{nullptr};
};
TORCH_MODULE(MBConv);

// One stage of torchvision's features (an nn.Sequential of blocks, children "0", "1", ...).
// LibTorch cannot nest nn::Sequential, so this holds the blocks itself.
struct StageImpl : torch::nn::Module {
  void add(MBConv block) { blocks.push_back(register_module(std::to_string(blocks.size()), block)); }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& b : blocks) x = b->forward(x);
    return x;
  }

  std::vector<MBConv> blocks;
};
TORCH_MODULE(Stage);

class EfficientNetV2 : public Model {
 public:
  EfficientNetV2(const std::vector<StageConfig>& stages, int64_t numClasses) {
    int64_t totalBlocks = 0;
    for (const auto& s : stages) totalBlocks += s.layers;

    torch::nn::Sequential f;
    f->push_back(ConvBNAct(3, stages.front().in, 3, 2, 1, true));
    int64_t blockId = 0;
    for (const auto& s : stages) {
      Stage stage;
      for (int64_t i = 0; i < s.layers; ++i) {
        const double sd = kStochasticDepth * static_cast<double>(blockId) / static_cast<double>(totalBlocks);
        stage->add(MBConv(s, i == 0 ? s.in : s.out, i == 0 ? s.stride : 1, sd));
        ++blockId;
      }
      f->push_back(stage);
    }
    f->push_back(ConvBNAct(stages.back().out, kLastChannel, 1, 1, 1, true));
    features = register_module("features", f);
    classifier = register_module("classifier", std::make_shared<torch::nn::Module>());
    fc = classifier->register_module("1", makeHead(numClasses));  // "0" is the Dropout
    initConvAndNorm(*this);
    declareTaps({"stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6"});
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(1) != 3)
      throw UserError("efficientnet_v2_s expects input [N, 3, H, W], got " + shapeOf(x));
    // stem, stages 1-6; stage6 is tapped after the last 1x1 conv (features.7, part of it)
    static const SequentialTaps kTaps = {{0, "stem"},   {1, "stage1"}, {2, "stage2"}, {3, "stage3"},
                                         {4, "stage4"}, {5, "stage5"}, {7, "stage6"}};
    x = forwardTapped(features, x, kTaps);
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    x = torch::dropout(x, kEfficientNetDropout, is_training());
    return fc(x);
  }

  void replaceHead(int64_t numClasses) override {
    fc = classifier->replace_module("1", makeHead(numClasses));
  }

  int64_t numClasses() const override { return fc->options.out_features(); }

 private:
  // torchvision's Linear init for EfficientNet: weight U(-1/sqrt(out), 1/sqrt(out)), bias 0.
  static torch::nn::Linear makeHead(int64_t numClasses) {
    torch::nn::Linear head(kLastChannel, numClasses);
    torch::NoGradGuard noGrad;
    const double range = 1.0 / std::sqrt(static_cast<double>(numClasses));
    torch::nn::init::uniform_(head->weight, -range, range);
    torch::nn::init::zeros_(head->bias);
    return head;
  }

  torch::nn::Sequential features{nullptr};
  std::shared_ptr<torch::nn::Module> classifier;
  torch::nn::Linear fc{nullptr};
};

ModelInfo efficientnetV2SInfo() {
  ModelInfo info;
  info.name = "efficientnet_v2_s";
  info.imagenetWeights = "efficientnet_v2_s-dd5fe13b.pth";
  info.inputSize = 384;
  info.fixedInputSize = false;  // fully convolutional up to a global average pool
  info.defaultLr = 1e-4;
  info.headPrefixes = {"classifier.1."};
  // torchvision's stages features.1-6 (output resolution at 384: 192, 96, 48, 24, 24, 12);
  // the final 1x1 conv features.7 goes with the last stage.
  info.groups = {
      {"classifier", {"classifier."}},
      {"stage6", {"features.6.", "features.7."}},
      {"stage5", {"features.5."}},
      {"stage4", {"features.4."}},
      {"stage3", {"features.3."}},
      {"stage2", {"features.2."}},
      {"stage1", {"features.1."}},
      {"stem", {"features.0."}},
  };
  info.camLayers = {"stage3", "stage4", "stage5", "stage6"};
  info.imagenetParams = 21458488;
  return info;
}

}  // namespace

std::vector<RegistryEntry> efficientnetEntries() {
  // expand ratio, kernel, stride, in, out, layers (Table 4 of the EfficientNetV2 paper).
  static const std::vector<StageConfig> v2s = {
      {true, 1, 3, 1, 24, 24, 2},     {true, 4, 3, 2, 24, 48, 4},    {true, 4, 3, 2, 48, 64, 4},
      {false, 4, 3, 2, 64, 128, 6},   {false, 6, 3, 1, 128, 160, 9}, {false, 6, 3, 2, 160, 256, 15},
  };
  return {{efficientnetV2SInfo(), [](int64_t n) { return std::make_shared<EfficientNetV2>(v2s, n); }}};
}

}  // namespace thtl::models
