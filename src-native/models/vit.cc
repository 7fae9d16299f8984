// Vision Transformer ViT-B/16 (torchvision.models.vit_b_16).

#include <cmath>

#include "common/errors.h"
#include "common/torch_compat.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

constexpr int64_t kImage = 224;
constexpr int64_t kPatch = 16;
constexpr int64_t kHidden = 768;
constexpr int64_t kMlp = 3072;
constexpr int64_t kHeads = 12;
constexpr int64_t kLayers = 12;
constexpr double kLnEps = 1e-6;

torch::nn::LayerNorm layerNorm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kLnEps));
}

// torchvision's MLPBlock: Linear, GELU, Dropout, Linear, Dropout (keys mlp.0 / mlp.3).
torch::nn::Sequential mlpBlock(int64_t dim, int64_t hidden, double dropout) {
  torch::nn::Sequential mlp(torch::nn::Linear(dim, hidden), torch::nn::GELU(),
                            torch::nn::Dropout(dropout), torch::nn::Linear(hidden, dim),
                            torch::nn::Dropout(dropout));
  torch::NoGradGuard noGrad;
  for (auto& m : mlp->modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(lin->weight);
      torch::nn::init::normal_(lin->bias, 0.0, 1e-6);
    }
  }
  return mlp;
}

// nn.MultiheadAttention(batch_first=True) self-attention with the packed in_proj
// parameters (in_proj_weight, in_proj_bias, out_proj.*) as torchvision stores them.
struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(int64_t dim, int64_t heads, double attentionDropout)
      : heads_(heads), dropout_(attentionDropout) {
    inProjWeight = register_parameter("in_proj_weight", torch::empty({3 * dim, dim}));
    inProjBias = register_parameter("in_proj_bias", torch::zeros({3 * dim}));
    outProj = register_module("out_proj", torch::nn::Linear(dim, dim));
    torch::NoGradGuard noGrad;
    torch::nn::init::xavier_uniform_(inProjWeight);
    torch::nn::init::zeros_(outProj->bias);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t b = x.size(0), n = x.size(1), e = x.size(2), d = e / heads_;
    // [B, N, 3E] -> [3, B, heads, N, d]
    auto qkv = torch::nn::functional::linear(x, inProjWeight, inProjBias)
                   .reshape({b, n, 3, heads_, d})
                   .permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];
    const double p = is_training() ? dropout_ : 0.0;
    auto out = compat::scaledDotProductAttention(q, k, v, {}, p, 1.0 / std::sqrt(static_cast<double>(d)));
    out = out.transpose(1, 2).reshape({b, n, e});
    return outProj(out);
  }

  int64_t heads_;
  double dropout_;
  torch::Tensor inProjWeight, inProjBias;
  torch::nn::Linear outProj{nullptr};
};
TORCH_MODULE(SelfAttention);

struct EncoderBlockImpl : torch::nn::Module {
  EncoderBlockImpl(int64_t dim, int64_t heads, int64_t mlpDim, double dropout, double attentionDropout) {
    ln_1 = register_module("ln_1", layerNorm(dim));
    self_attention = register_module("self_attention", SelfAttention(dim, heads, attentionDropout));
    drop = register_module("dropout", torch::nn::Dropout(dropout));
    ln_2 = register_module("ln_2", layerNorm(dim));
    mlp = register_module("mlp", mlpBlock(dim, mlpDim, dropout));
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto x = drop(self_attention(ln_1(input))) + input;
    return x + mlp->forward(ln_2(x));
  }

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  SelfAttention self_attention{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(EncoderBlock);

struct EncoderImpl : torch::nn::Module {
  EncoderImpl(int64_t seqLength, int64_t numLayers, int64_t heads, int64_t dim, int64_t mlpDim,
              double dropout, double attentionDropout) {
    pos_embedding = register_parameter("pos_embedding", torch::empty({1, seqLength, dim}));
    {
      torch::NoGradGuard noGrad;
      pos_embedding.normal_(0.0, 0.02);
    }
    drop = register_module("dropout", torch::nn::Dropout(dropout));
    layers = register_module("layers", torch::nn::Sequential());
    for (int64_t i = 0; i < numLayers; ++i) {
      blocks.push_back(EncoderBlock(dim, heads, mlpDim, dropout, attentionDropout));
      layers->push_back("encoder_layer_" + std::to_string(i), blocks.back());
    }
    ln = register_module("ln", layerNorm(dim));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = drop(x + pos_embedding);
    for (auto& block : blocks) x = block(x);
    return ln(x);
  }

  torch::Tensor pos_embedding;
  torch::nn::Dropout drop{nullptr};
  torch::nn::Sequential layers{nullptr};
  std::vector<EncoderBlock> blocks;
  torch::nn::LayerNorm ln{nullptr};
};
TORCH_MODULE(Encoder);

class VisionTransformer : public Model {
 public:
  explicit VisionTransformer(int64_t numClasses, double dropout = 0.0, double attentionDropout = 0.0) {
    const int64_t grid = kImage / kPatch;
    class_token = register_parameter("class_token", torch::zeros({1, 1, kHidden}));
    conv_proj = register_module("conv_proj", conv(3, kHidden, kPatch, kPatch, 0, /*bias=*/true));
    encoder = register_module(
        "encoder", Encoder(grid * grid + 1, kLayers, kHeads, kHidden, kMlp, dropout, attentionDropout));
    // nn.Sequential(OrderedDict(head=Linear)) in torchvision: only the "heads.head." keys matter.
    heads = register_module("heads", std::make_shared<torch::nn::Module>());
    head = heads->register_module("head", newHead(numClasses));
    // Patchify stem: truncated normal with std sqrt(1 / fan_in), zero bias.
    truncNormal(conv_proj->weight, 0.0, std::sqrt(1.0 / static_cast<double>(3 * kPatch * kPatch)));
    torch::NoGradGuard noGrad;
    torch::nn::init::zeros_(conv_proj->bias);
    declareTaps({"stem", "layers0-2", "layers3-5", "layers6-8", "layers9-11"});
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(2) != kImage || x.size(3) != kImage) {
      std::string got = "[";
      for (int64_t i = 0; i < x.dim(); ++i) got += (i ? ", " : "") + std::to_string(x.size(i));
      got += "]";
      throw UserError("ViT-B/16 (vit_b_16) takes 224x224 input (its position embedding is for a 14x14 "
                      "grid of 16x16 patches); got an input of shape " + got);
    }
    const int64_t n = x.size(0);
    x = conv_proj(x);                                        // [N, 768, 14, 14]
    x = x.reshape({n, kHidden, -1}).permute({0, 2, 1});      // [N, 196, 768]
    x = torch::cat({class_token.expand({n, -1, -1}), x}, 1);  // [N, 197, 768]
    // The encoder's steps (Encoder::forward), tapping every third block's output.
    static const char* const kGroupNames[4] = {"layers0-2", "layers3-5", "layers6-8", "layers9-11"};
    x = tap("stem", encoder->drop(x + encoder->pos_embedding), FeatureLayout::Tokens);
    for (size_t i = 0; i < encoder->blocks.size(); ++i) {
      x = encoder->blocks[i](x);
      if (i % 3 == 2 && i / 3 < 3) x = tap(kGroupNames[i / 3], x, FeatureLayout::Tokens);
    }
    x = tap(kGroupNames[3], encoder->ln(x), FeatureLayout::Tokens);
    return head(x.select(1, 0));
  }

  void replaceHead(int64_t numClasses) override {
    head = heads->replace_module("head", newHead(numClasses));
  }

  int64_t numClasses() const override { return head->options.out_features(); }

 private:
  // torchvision zero-initialises the classification head.
  static torch::nn::Linear newHead(int64_t numClasses) {
    torch::nn::Linear lin(kHidden, numClasses);
    torch::NoGradGuard noGrad;
    torch::nn::init::zeros_(lin->weight);
    torch::nn::init::zeros_(lin->bias);
    return lin;
  }

  torch::Tensor class_token;
  torch::nn::Conv2d conv_proj{nullptr};
  Encoder encoder{nullptr};
  std::shared_ptr<torch::nn::Module> heads;
  torch::nn::Linear head{nullptr};
};

std::string layerPrefix(int64_t i) { return "encoder.layers.encoder_layer_" + std::to_string(i) + "."; }

ModelInfo vitB16Info() {
  ModelInfo info;
  info.name = "vit_b_16";
  info.imagenetWeights = "vit_b_16-c867db91.pth";
  info.inputSize = kImage;
  info.fixedInputSize = true;
  info.transformer = true;  // the position embedding holds exactly 14x14 patches + class token
  info.defaultLr = 1e-3;
  info.headPrefixes = {"heads.head."};
  info.groups = {
      {"heads", {"heads."}},
      {"layers9-11", {layerPrefix(9), layerPrefix(10), layerPrefix(11), "encoder.ln."}},
      {"layers6-8", {layerPrefix(6), layerPrefix(7), layerPrefix(8)}},
      {"layers3-5", {layerPrefix(3), layerPrefix(4), layerPrefix(5)}},
      {"layers0-2", {layerPrefix(0), layerPrefix(1), layerPrefix(2)}},
      {"stem", {"conv_proj.", "class_token", "encoder.pos_embedding"}},
  };
  // Only the class token reaches the head, so the patch tokens of the last block's
  // output get no gradient: LayerCAM needs the output of an earlier block.
  info.camLayers = {"layers3-5", "layers6-8"};
  info.imagenetParams = 86567656;
  return info;
}

}  // namespace

std::vector<RegistryEntry> vitEntries() {
  return {{vitB16Info(), [](int64_t n) { return std::make_shared<VisionTransformer>(n); }}};
}

}  // namespace thtl::models
