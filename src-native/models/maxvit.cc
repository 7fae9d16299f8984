// MaxViT-T (torchvision.models.maxvit_t): a conv stem, then four stages of MaxVit layers
// (MBConv with Squeeze-and-Excitation -> block/window attention -> grid attention, each
// attention with a relative position bias over 7x7 partitions), then a LayerNorm ->
// Linear -> Tanh -> Linear classifier. BatchNorm eps 1e-3 momentum 0.99 (torchvision's
// literal PyTorch momentum), LayerNorm eps 1e-5, exact GELU, stochastic depth 0.2 scaled
// linearly over the 11 layers. Registered names equal torchvision's state_dict keys
// ("blocks.2.layers.4.layers.grid_attention.attn_layer.1.relative_position_bias_table").
//
// torchvision builds the model for one input size (its grid attention splits each stage's
// feature map into (grid/7)^2 strided groups); the weights do not depend on it. Here the
// grid is taken from the input's actual size, so a side that torchvision accepts (every
// stage's grid divisible by 7: 224*k, or up to 3 less) gives what torchvision builds for
// that size; other sizes throw a UserError.

#include <cmath>
#include <string>

#include "common/errors.h"
#include "common/torch_compat.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

constexpr double kBnEps = 1e-3;
constexpr double kBnMomentum = 0.99;  // torchvision: partial(nn.BatchNorm2d, eps=1e-3, momentum=0.99)
constexpr double kStochasticDepth = 0.2;
constexpr int64_t kPartition = 7;
constexpr int64_t kHeadDim = 32;
constexpr int64_t kStemChannels = 64;
constexpr int64_t kLastChannels = 512;
constexpr double kInitStd = 0.02;

// conv(k=3, padding=1) output side, as torchvision's _get_conv_output_shape(n, 3, 2, 1).
int64_t halve(int64_t n) { return (n - 1) / 2 + 1; }

// torchvision.ops.Conv2dNormActivation(norm=BatchNorm2d(eps 1e-3, momentum 0.99), GELU):
// children "0" (conv, padding (k-1)/2, no bias) and "1" (BatchNorm); "2" is the GELU.
struct ConvNormGeluImpl : torch::nn::Module {
  ConvNormGeluImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
    c = register_module("0", conv(in, out, kernel, stride, (kernel - 1) / 2, false, groups));
    bn = register_module("1", batchNorm(out, kBnEps, kBnMomentum));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::gelu(bn(c(x))); }

  torch::nn::Conv2d c{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvNormGelu);

// torchvision.ops.SqueezeExcitation(channels, squeeze, activation=SiLU).
struct SqueezeExcitationImpl : torch::nn::Module {
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze) {
    fc1 = register_module("fc1", conv(channels, squeeze, 1, 1, 0, /*bias=*/true));
    fc2 = register_module("fc2", conv(squeeze, channels, 1, 1, 0, /*bias=*/true));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor s = torch::adaptive_avg_pool2d(x, {1, 1});
    s = torch::sigmoid(fc2(torch::silu(fc1(s))));
    return x * s;
  }

  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

// torchvision's MBConv (pre-norm, expansion 4, SE squeeze 0.25 of the output channels):
// proj = [AvgPool2d(3, 2, 1) when strided] + 1x1 conv with bias where the shape changes,
// layers = pre_norm, conv_a (1x1), conv_b (3x3 depthwise, stride), squeeze_excitation, conv_c.
struct MBConvImpl : torch::nn::Module {
  MBConvImpl(int64_t in, int64_t out, int64_t stride, double sdProb) : stride(stride), sdProb(sdProb) {
    const int64_t mid = out * 4;
    const int64_t squeeze = out / 4;
    if (stride != 1 || in != out) {
      proj = register_module("proj", std::make_shared<torch::nn::Module>());
      projConv = proj->register_module("1", conv(in, out, 1, 1, 0, /*bias=*/true));  // "0" is the AvgPool
    }
    layers = register_module("layers", std::make_shared<torch::nn::Module>());
    preNorm = layers->register_module("pre_norm", batchNorm(in, kBnEps, kBnMomentum));
    convA = layers->register_module("conv_a", ConvNormGelu(in, mid, 1, 1, 1));
    convB = layers->register_module("conv_b", ConvNormGelu(mid, mid, 3, stride, mid));
    se = layers->register_module("squeeze_excitation", SqueezeExcitation(mid, squeeze));
    convC = layers->register_module("conv_c", conv(mid, out, 1, 1, 0, /*bias=*/true));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor res = x;
    if (projConv) {
      res = stride == 2 ? torch::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}) : x;
      res = projConv(res);
    }
    torch::Tensor y = convC(se(convB(convA(preNorm(x)))));
    return res + stochasticDepth(y, sdProb, is_training());
  }

  int64_t stride;
  double sdProb;
  std::shared_ptr<torch::nn::Module> proj, layers;
  torch::nn::Conv2d projConv{nullptr}, convC{nullptr};
  torch::nn::BatchNorm2d preNorm{nullptr};
  ConvNormGelu convA{nullptr}, convB{nullptr};
  SqueezeExcitation se{nullptr};
};
TORCH_MODULE(MBConv);

// torchvision's RelativePositionalMultiHeadAttention over groups of 7x7 = 49 tokens:
// x [B, G, 49, C] -> softmax(q k^T * C^-0.5 + bias) v, heads of 32 channels. The bias
// gathers relative_position_bias_table [(2*7-1)^2, heads] with relative_position_index
// [49, 49] (a persistent buffer in torchvision's state_dict, so registered here too).
struct RelativeAttentionImpl : torch::nn::Module {
  explicit RelativeAttentionImpl(int64_t channels)
      : channels(channels), heads(channels / kHeadDim), scale(std::pow(static_cast<double>(channels), -0.5)) {
    to_qkv = register_module("to_qkv", torch::nn::Linear(channels, 3 * channels));
    merge = register_module("merge", torch::nn::Linear(channels, channels));
    const int64_t span = 2 * kPartition - 1;
    table = register_parameter("relative_position_bias_table", torch::empty({span * span, heads}));
    {
      // torch.nn.init.trunc_normal_(std=0.02) truncates at +-2 (100 std): a plain normal.
      torch::NoGradGuard noGrad;
      table.normal_(0.0, kInitStd).clamp_(-2.0, 2.0);
    }
    // index[i][j] = (dh_ij + 6) * 13 + (dw_ij + 6) for tokens i, j of a 7x7 partition.
    torch::Tensor pos = torch::arange(kPartition * kPartition, torch::kLong);
    torch::Tensor h = pos.div(kPartition, "floor"), w = pos.remainder(kPartition);
    torch::Tensor dh = h.unsqueeze(1) - h.unsqueeze(0) + (kPartition - 1);
    torch::Tensor dw = w.unsqueeze(1) - w.unsqueeze(0) + (kPartition - 1);
    index = register_buffer("relative_position_index", dh * span + dw);
  }

  // [1, heads, 49, 49]
  torch::Tensor positionBias() const {
    const int64_t n = kPartition * kPartition;
    return table.index_select(0, index.reshape({-1})).view({n, n, heads}).permute({2, 0, 1}).unsqueeze(0);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), G = x.size(1), P = x.size(2);
    // to_qkv's output is [q | k | v], each [heads, head_dim].
    torch::Tensor qkv = to_qkv(x).view({B * G, P, 3, heads, kHeadDim}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];  // [B*G, heads, P, head_dim]
    torch::Tensor bias = positionBias();
    // torchvision scales by channels^-0.5, not head_dim^-0.5.
    torch::Tensor out = compat::scaledDotProductAttention(q, k, v, bias, 0.0, scale);
    out = out.permute({0, 2, 1, 3}).reshape({B, G, P, channels});
    return merge(out);
  }

  int64_t channels, heads;
  double scale;
  torch::nn::Linear to_qkv{nullptr}, merge{nullptr};
  torch::Tensor table, index;
};
TORCH_MODULE(RelativeAttention);

// torchvision's PartitionAttentionLayer: partition [B, C, H, W] into groups of 7x7 tokens,
// x += attn_layer(x) (LayerNorm, attention), x += mlp_layer(x) (LayerNorm, Linear 4C, GELU,
// Linear C), each through row-mode stochastic depth, then back to [B, C, H, W].
// window: each group is a contiguous 7x7 window (block attention); grid: each group takes
// one token from every (H/7)x(W/7) cell, a dilated 7x7 grid spanning the map. Token order
// inside a group is row-major over the 7x7 positions, as torchvision's partition + swap.
// attention_dropout and mlp_dropout are 0 in maxvit_t (Dropout "attn_layer.2", "mlp_layer.4").
struct PartitionAttentionImpl : torch::nn::Module {
  PartitionAttentionImpl(int64_t channels, bool grid, double sdProb) : grid(grid), sdProb(sdProb) {
    attnLayer = register_module("attn_layer", std::make_shared<torch::nn::Module>());
    attnNorm = attnLayer->register_module("0", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
    attn = attnLayer->register_module("1", RelativeAttention(channels));
    mlpLayer = register_module("mlp_layer", std::make_shared<torch::nn::Module>());
    mlpNorm = mlpLayer->register_module("0", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
    fc1 = mlpLayer->register_module("1", torch::nn::Linear(channels, 4 * channels));  // "2" is the GELU
    fc2 = mlpLayer->register_module("3", torch::nn::Linear(4 * channels, channels));
  }

  torch::Tensor forward(const torch::Tensor& input) {
    const int64_t B = input.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
    const int64_t p = kPartition;
    const int64_t nh = H / p, nw = W / p;  // windows per side, or grid cell size
    torch::Tensor x;
    if (grid) {
      // [B, C, 7, nh, 7, nw] -> [B, nh, nw, 7, 7, C]: group (i, j), token (a, b) = pixel (a*nh+i, b*nw+j)
      x = input.reshape({B, C, p, nh, p, nw}).permute({0, 3, 5, 2, 4, 1}).reshape({B, nh * nw, p * p, C});
    } else {
      // [B, C, nh, 7, nw, 7] -> [B, nh, nw, 7, 7, C]: group (i, j), token (a, b) = pixel (i*7+a, j*7+b)
      x = input.reshape({B, C, nh, p, nw, p}).permute({0, 2, 4, 3, 5, 1}).reshape({B, nh * nw, p * p, C});
    }
    const bool training = is_training();
    x = x + stochasticDepth(attn(attnNorm(x)), sdProb, training);
    x = x + stochasticDepth(fc2(torch::gelu(fc1(mlpNorm(x)))), sdProb, training);
    x = x.view({B, nh, nw, p, p, C});
    if (grid) return x.permute({0, 5, 3, 1, 4, 2}).reshape({B, C, H, W});
    return x.permute({0, 5, 1, 3, 2, 4}).reshape({B, C, H, W});
  }

  bool grid;
  double sdProb;
  std::shared_ptr<torch::nn::Module> attnLayer, mlpLayer;
  torch::nn::LayerNorm attnNorm{nullptr}, mlpNorm{nullptr};
  RelativeAttention attn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(PartitionAttention);

// torchvision's MaxVitLayer: layers = MBconv -> window_attention -> grid_attention.
struct MaxVitLayerImpl : torch::nn::Module {
  MaxVitLayerImpl(int64_t in, int64_t out, int64_t stride, double sdProb) {
    layers = register_module("layers", std::make_shared<torch::nn::Module>());
    mbconv = layers->register_module("MBconv", MBConv(in, out, stride, sdProb));
    window = layers->register_module("window_attention", PartitionAttention(out, false, sdProb));
    grid = layers->register_module("grid_attention", PartitionAttention(out, true, sdProb));
  }
  torch::Tensor forward(const torch::Tensor& x) { return grid(window(mbconv(x))); }

  std::shared_ptr<torch::nn::Module> layers;
  MBConv mbconv{nullptr};
  PartitionAttention window{nullptr}, grid{nullptr};
};
TORCH_MODULE(MaxVitLayer);

class MaxVit : public Model {
 public:
  MaxVit(const std::vector<int64_t>& channels, const std::vector<int64_t>& depths, int64_t numClasses) {
    stem = register_module("stem", std::make_shared<torch::nn::Module>());
    stem0 = stem->register_module("0", ConvNormGelu(3, kStemChannels, 3, 2, 1));
    auto stem1 = stem->register_module("1", std::make_shared<torch::nn::Module>());
    stemConv = stem1->register_module("0", conv(kStemChannels, kStemChannels, 3, 1, 1, /*bias=*/true));

    int64_t total = 0;
    for (int64_t d : depths) total += d;
    auto blockList = register_module("blocks", torch::nn::ModuleList());
    int64_t in = kStemChannels, layerId = 0;
    for (size_t s = 0; s < channels.size(); ++s) {
      auto block = std::make_shared<torch::nn::Module>();
      auto list = block->register_module("layers", torch::nn::ModuleList());
      for (int64_t i = 0; i < depths[s]; ++i) {
        // np.linspace(0, 0.2, 11)[layerId]
        const double sd = kStochasticDepth * static_cast<double>(layerId) / static_cast<double>(total - 1);
        MaxVitLayer layer(i == 0 ? in : channels[s], channels[s], i == 0 ? 2 : 1, sd);
        list->push_back(layer);
        layers_.push_back(layer);
        ++layerId;
      }
      blockList->push_back(block);
      stageEnds_.push_back(layers_.size());
      in = channels[s];
    }
    std::vector<std::string> taps{"stem"};
    for (size_t s = 0; s < channels.size(); ++s) taps.push_back("blocks." + std::to_string(s));
    declareTaps(taps);

    // classifier: "0" AdaptiveAvgPool2d, "1" Flatten, "2" LayerNorm, "3" Linear, "4" Tanh, "5" Linear.
    classifier = register_module("classifier", std::make_shared<torch::nn::Module>());
    norm = classifier->register_module("2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({kLastChannels})));
    preLogits = classifier->register_module("3", torch::nn::Linear(kLastChannels, kLastChannels));
    head = classifier->register_module("5", makeHead(numClasses));
    initWeights();
  }

  torch::Tensor forward(torch::Tensor x) override {
    checkInput(x);
    // Taps (NCHW): the stem, then each stage ("blocks.s") after its last layer.
    x = tap("stem", stemConv(stem0(x)));
    for (size_t i = 0, stage = 0; i < layers_.size(); ++i) {
      x = layers_[i](x);
      if (stage < stageEnds_.size() && i + 1 == stageEnds_[stage]) x = tap(camLayerNames()[1 + stage++], x);
    }
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    return head(torch::tanh(preLogits(norm(x))));
  }

  void replaceHead(int64_t numClasses) override { head = classifier->replace_module("5", makeHead(numClasses)); }

  int64_t numClasses() const override { return head->options.out_features(); }

 private:
  // torchvision's MaxVit._init_weights: Conv2d and Linear N(0, 0.02) with zero bias,
  // BatchNorm 1/0; LayerNorm keeps 1/0 and the bias tables their truncated normal.
  void initWeights() {
    torch::NoGradGuard noGrad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        c->weight.normal_(0.0, kInitStd);
        if (c->bias.defined()) c->bias.zero_();
      } else if (auto* l = m->as<torch::nn::Linear>()) {
        l->weight.normal_(0.0, kInitStd);
        if (l->bias.defined()) l->bias.zero_();
      } else if (auto* b = m->as<torch::nn::BatchNorm2d>()) {
        b->weight.fill_(1.0);
        b->bias.zero_();
      }
    }
  }

  // The last Linear has no bias (torchvision: nn.Linear(512, num_classes, bias=False)).
  static torch::nn::Linear makeHead(int64_t numClasses) {
    torch::nn::Linear fc(torch::nn::LinearOptions(kLastChannels, numClasses).bias(false));
    torch::NoGradGuard noGrad;
    fc->weight.normal_(0.0, kInitStd);
    return fc;
  }

  // Every stage's grid (side after the stem and each stride-2 stage) must split into 7x7
  // partitions, as torchvision checks when it builds the model for an input size.
  static void checkInput(const torch::Tensor& x) {
    if (x.dim() != 4 || x.size(1) != 3)
      throw UserError("maxvit_t expects input [N, 3, H, W], got " + shapeOf(x));
    bool ok = x.size(2) == x.size(3);
    int64_t side = halve(x.size(2));
    for (int stage = 0; stage < 4 && ok; ++stage) {
      side = halve(side);
      ok = side % kPartition == 0;
    }
    if (!ok)
      throw UserError("maxvit_t takes square 224x224 input (its attention splits every stage's feature map into "
                      "7x7 partitions, so the side must be 224*k or up to 3 less, e.g. 224 or 448), got " +
                      shapeOf(x));
  }

  std::shared_ptr<torch::nn::Module> stem, classifier;
  ConvNormGelu stem0{nullptr};
  torch::nn::Conv2d stemConv{nullptr};
  std::vector<MaxVitLayer> layers_;
  std::vector<size_t> stageEnds_;  // layers_ index one past each stage's last layer
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear preLogits{nullptr}, head{nullptr};
};

ModelInfo maxvitTInfo() {
  ModelInfo info;
  info.name = "maxvit_t";
  info.imagenetWeights = "maxvit_t-bc5ab103.pth";
  info.inputSize = 224;
  // The stage grids (56, 28, 14, 7 at 224) must divide into 7x7 partitions: only sides of
  // 224*k (or up to 3 less) work, so runs use 224.
  info.fixedInputSize = true;
  info.transformer = true;
  info.bf16NeedsLibTorch2 = true;  // 1.13: layer_norm "expected scalar type BFloat16 but found Float"
  info.defaultLr = 1e-4;
  info.headPrefixes = {"classifier.5."};
  // "classifier" is the replaced Linear only (head-only training trains exactly it);
  // "pre_logits" is the ImageNet-trained LayerNorm + Linear(512, 512) + Tanh before it.
  info.groups = {
      {"classifier", {"classifier.5."}},
      {"pre_logits", {"classifier.2.", "classifier.3."}},
      {"blocks.3", {"blocks.3."}},
      {"blocks.2", {"blocks.2."}},
      {"blocks.1", {"blocks.1."}},
      {"blocks.0", {"blocks.0."}},
      {"stem", {"stem."}},
  };
  info.camLayers = {"blocks.1", "blocks.2", "blocks.3"};
  info.imagenetParams = 30919624;
  return info;
}

}  // namespace

std::vector<RegistryEntry> maxvitEntries() {
  return {{maxvitTInfo(), [](int64_t n) {
             return std::make_shared<MaxVit>(std::vector<int64_t>{64, 128, 256, 512},
                                             std::vector<int64_t>{2, 2, 5, 2}, n);
           }}};
}

}  // namespace thtl::models
