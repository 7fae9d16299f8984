// Swin Transformer V2 (torchvision.models.swin_v2_t): shifted-window cosine attention with a
// continuous position bias MLP, post-norm residual blocks and PatchMergingV2, all in NHWC.
#include <cmath>

#include "common/errors.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

namespace F = torch::nn::functional;

// SwinTransformer's final initialisation of every Linear: trunc_normal(std 0.02), zero bias.
void initLinear(torch::nn::LinearImpl& lin) {
  truncNormal(lin.weight, 0.0, 0.02);
  if (lin.bias.defined()) {
    torch::NoGradGuard noGrad;
    lin.bias.zero_();
  }
}

torch::nn::LayerNorm layerNorm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5));
}

// The patch embedding: features.0 = Sequential(Conv2d, Permute([0, 2, 3, 1]), LayerNorm).
struct PatchEmbedImpl : torch::nn::Module {
  PatchEmbedImpl(int64_t dim, int64_t patch) {
    proj = register_module("0", conv(3, dim, patch, patch, 0, /*bias=*/true));
    norm = register_module("2", layerNorm(dim));
  }
  torch::Tensor forward(const torch::Tensor& x) { return norm(proj(x).permute({0, 2, 3, 1})); }

  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(PatchEmbed);

// ShiftedWindowAttentionV2 and shifted_window_attention(..., logit_scale=...).
struct WindowAttentionImpl : torch::nn::Module {
  WindowAttentionImpl(int64_t dim, int64_t window, int64_t shift, int64_t heads, double attentionDropout,
                      double dropout)
      : window_(window), shift_(shift), heads_(heads), attnDropout_(attentionDropout), dropout_(dropout) {
    qkv = register_module("qkv", torch::nn::Linear(dim, dim * 3));
    proj = register_module("proj", torch::nn::Linear(dim, dim));

    // relative_coords_table [1, 2w-1, 2w-1, 2]: log-spaced relative offsets, as torchvision.
    auto r = torch::arange(-(window - 1), window, torch::kFloat32);
    auto grid = torch::stack(torch::meshgrid({r, r}, "ij"));               // 2, 2w-1, 2w-1
    auto table = grid.permute({1, 2, 0}).contiguous().unsqueeze(0);       // 1, 2w-1, 2w-1, 2
    table = table / static_cast<double>(window - 1) * 8.0;
    table = torch::sign(table) * torch::log2(torch::abs(table) + 1.0) / 3.0;
    relative_coords_table = register_buffer("relative_coords_table", table);

    // relative_position_index [w^4]: each token pair's row in the (2w-1)^2 table.
    auto c = torch::arange(window, torch::kLong);
    auto coords = torch::stack(torch::meshgrid({c, c}, "ij")).flatten(1);  // 2, w*w
    auto rel = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}) + (window - 1);
    auto index = (rel.select(2, 0) * (2 * window - 1) + rel.select(2, 1)).flatten();
    relative_position_index = register_buffer("relative_position_index", index);

    logit_scale = register_parameter("logit_scale", torch::full({heads, 1, 1}, std::log(10.0)));
    cpb_mlp = register_module("cpb_mlp", torch::nn::Sequential(torch::nn::Linear(2, 512), torch::nn::ReLU(),
                                                             torch::nn::Linear(torch::nn::LinearOptions(512, heads).bias(false))));
  }

  // 16 * sigmoid(cpb_mlp(table)[index]) as [1, heads, w*w, w*w].
  torch::Tensor positionBias() {
    const int64_t n = window_ * window_;
    auto table = cpb_mlp->forward(relative_coords_table).view({-1, heads_});
    auto bias = table.index_select(0, relative_position_index).view({n, n, heads_});
    return 16.0 * torch::sigmoid(bias.permute({2, 0, 1}).unsqueeze(0));
  }

  // Attention mask of a shifted window layout: 0 within a region, -100 across regions,
  // [num_windows, w*w, w*w].
  torch::Tensor shiftMask(int64_t padH, int64_t padW, int64_t shiftH, int64_t shiftW,
                          const torch::TensorOptions& opts) const {
    auto regions = [&](int64_t len, int64_t shift) {
      auto idx = torch::arange(len, opts.dtype(torch::kLong));
      // torchvision's slice assignment: with a zero shift its last slice covers everything.
      if (shift == 0) return torch::zeros({len}, opts.dtype(torch::kLong));
      return (idx >= len - window_).to(torch::kLong) + (idx >= len - shift).to(torch::kLong);
    };
    auto ids = regions(padH, shiftH).unsqueeze(1) * 3 + regions(padW, shiftW).unsqueeze(0);
    ids = ids.view({padH / window_, window_, padW / window_, window_})
              .permute({0, 2, 1, 3})
              .reshape({-1, window_ * window_});
    auto differs = ids.unsqueeze(1) != ids.unsqueeze(2);
    return torch::zeros(differs.sizes(), opts).masked_fill(differs, -100.0);
  }

  torch::Tensor forward(const torch::Tensor& input) {
    const int64_t b = input.size(0), h = input.size(1), w = input.size(2), c = input.size(3);
    const int64_t ws = window_;
    const int64_t padR = (ws - w % ws) % ws, padB = (ws - h % ws) % ws;
    torch::Tensor x = (padR || padB) ? torch::constant_pad_nd(input, {0, 0, 0, padR, 0, padB}, 0) : input;
    const int64_t padH = h + padB, padW = w + padR;
    // No shift where one window covers the whole (padded) map.
    const int64_t shiftH = ws >= padH ? 0 : shift_, shiftW = ws >= padW ? 0 : shift_;
    const bool shifted = shiftH + shiftW > 0;
    if (shifted) x = torch::roll(x, {-shiftH, -shiftW}, {1, 2});

    // Partition windows: [B * nW, w*w, C].
    const int64_t nH = padH / ws, nW = padW / ws, windows = nH * nW, n = ws * ws;
    x = x.view({b, nH, ws, nW, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b * windows, n, c});

    // The key bias is unused in V2 (torchvision zeroes it on a clone).
    auto qb = qkv->bias;
    auto bias = torch::cat({qb.slice(0, 0, c), torch::zeros_like(qb.slice(0, c, 2 * c)), qb.slice(0, 2 * c)});
    auto qkvOut = F::linear(x, qkv->weight, bias)
                      .reshape({b * windows, n, 3, heads_, c / heads_})
                      .permute({2, 0, 3, 1, 4});
    auto q = qkvOut[0], k = qkvOut[1], v = qkvOut[2];

    // Cosine attention with a learned, clamped temperature.
    auto attn = torch::matmul(F::normalize(q, F::NormalizeFuncOptions().dim(-1)),
                              F::normalize(k, F::NormalizeFuncOptions().dim(-1)).transpose(-2, -1));
    attn = attn * torch::clamp_max(logit_scale, std::log(100.0)).exp();
    attn = attn + positionBias();
    if (shifted) {
      auto mask = shiftMask(padH, padW, shiftH, shiftW, attn.options());  // nW, n, n
      attn = (attn.view({b, windows, heads_, n, n}) + mask.unsqueeze(1).unsqueeze(0)).view({-1, heads_, n, n});
    }
    attn = attn.softmax(-1);
    if (is_training() && attnDropout_ > 0.0) attn = torch::dropout(attn, attnDropout_, true);

    x = torch::matmul(attn, v).transpose(1, 2).reshape({b * windows, n, c});
    x = proj(x);
    if (is_training() && dropout_ > 0.0) x = torch::dropout(x, dropout_, true);

    // Reverse windows, shift and padding.
    x = x.view({b, nH, nW, ws, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b, padH, padW, c});
    if (shifted) x = torch::roll(x, {shiftH, shiftW}, {1, 2});
    if (padR || padB) x = x.slice(1, 0, h).slice(2, 0, w);
    return x.contiguous();
  }

  int64_t window_, shift_, heads_;
  double attnDropout_, dropout_;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::Tensor relative_coords_table, relative_position_index, logit_scale;
  torch::nn::Sequential cpb_mlp{nullptr};
};
TORCH_MODULE(WindowAttention);

// SwinTransformerBlockV2: post-norm residuals x + sd(norm(f(x))).
struct SwinBlockImpl : torch::nn::Module {
  SwinBlockImpl(int64_t dim, int64_t heads, int64_t window, int64_t shift, double sdProb, double dropout,
                double attentionDropout)
      : sdProb_(sdProb) {
    norm1 = register_module("norm1", layerNorm(dim));
    attn = register_module("attn", WindowAttention(dim, window, shift, heads, attentionDropout, dropout));
    norm2 = register_module("norm2", layerNorm(dim));
    mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(dim, 4 * dim), torch::nn::GELU(),
                                                       torch::nn::Dropout(dropout), torch::nn::Linear(4 * dim, dim),
                                                       torch::nn::Dropout(dropout)));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + stochasticDepth(norm1(attn(x)), sdProb_, is_training());
    return x + stochasticDepth(norm2(mlp->forward(x)), sdProb_, is_training());
  }

  double sdProb_;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  WindowAttention attn{nullptr};
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(SwinBlock);

// PatchMergingV2: 2x2 neighbourhoods concatenated (x0, x1, x2, x3 order), reduced, then normed.
struct PatchMergingImpl : torch::nn::Module {
  explicit PatchMergingImpl(int64_t dim) {
    reduction = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
    norm = register_module("norm", layerNorm(2 * dim));
  }

  torch::Tensor forward(torch::Tensor x) {
    const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
    if (h % 2 || w % 2) x = torch::constant_pad_nd(x, {0, 0, 0, w % 2, 0, h % 2}, 0);
    const int64_t h2 = (h + 1) / 2, w2 = (w + 1) / 2;
    // [B, H/2, dh, W/2, dw, C] -> [B, H/2, W/2, dw, dh, C]: channel blocks (0,0), (1,0), (0,1), (1,1).
    x = x.view({b, h2, 2, w2, 2, c}).permute({0, 1, 3, 4, 2, 5}).reshape({b, h2, w2, 4 * c});
    return norm(reduction(x));
  }

  torch::nn::Linear reduction{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(PatchMerging);

struct SwinConfig {
  std::string name;
  int64_t embedDim;
  std::vector<int64_t> depths, heads;
  int64_t window;
  double stochasticDepthProb;
};

class SwinTransformerV2 : public Model {
 public:
  SwinTransformerV2(const SwinConfig& cfg, int64_t numClasses, double dropout = 0.0, double attentionDropout = 0.0)
      : name_(cfg.name) {
    features = register_module("features", torch::nn::ModuleList());
    embed_ = PatchEmbed(cfg.embedDim, 4);
    features->push_back(embed_);
    int64_t total = 0;
    for (int64_t d : cfg.depths) total += d;
    int64_t blockId = 0;
    const size_t stages = cfg.depths.size();
    for (size_t s = 0; s < stages; ++s) {
      const int64_t dim = cfg.embedDim << s;
      torch::nn::ModuleList stage;
      std::vector<SwinBlock> blocks;
      for (int64_t i = 0; i < cfg.depths[s]; ++i) {
        const double sd = cfg.stochasticDepthProb * static_cast<double>(blockId++) / static_cast<double>(total - 1);
        blocks.push_back(SwinBlock(dim, cfg.heads[s], cfg.window, i % 2 == 0 ? 0 : cfg.window / 2, sd, dropout,
                                   attentionDropout));
        stage->push_back(blocks.back());
      }
      features->push_back(stage);
      stages_.push_back(std::move(blocks));
      if (s + 1 < stages) {
        merges_.push_back(PatchMerging(dim));
        features->push_back(merges_.back());
      }
    }
    numFeatures_ = cfg.embedDim << (stages - 1);
    norm = register_module("norm", layerNorm(numFeatures_));
    head = register_module("head", torch::nn::Linear(numFeatures_, numClasses));
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* lin = m->as<torch::nn::Linear>()) initLinear(*lin);
    }
    std::vector<std::string> taps{"stem"};
    for (size_t s = 0; s < stages; ++s) taps.push_back("stage" + std::to_string(s + 1));
    declareTaps(taps);
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(2) < 4 || x.size(3) < 4) {
      std::string got = "[";
      for (int64_t i = 0; i < x.dim(); ++i) got += (i ? ", " : "") + std::to_string(x.size(i));
      got += "]";
      throw UserError(name_ + " takes [N, 3, H, W] input with H and W at least 4 (256x256 is its native size; "
                      "other sizes are padded to 8x8 windows as torchvision does); got an input of shape " + got);
    }
    // Taps (channels-last maps): stage k = the patch merging before it + its blocks.
    x = tap("stem", embed_(x), FeatureLayout::NHWC);
    for (size_t s = 0; s < stages_.size(); ++s) {
      for (auto& block : stages_[s]) x = block(x);
      x = tap(camLayerNames()[s + 1], x, FeatureLayout::NHWC);
      if (s < merges_.size()) x = merges_[s](x);
    }
    x = norm(x).mean({1, 2});
    return head(x);
  }

  void replaceHead(int64_t numClasses) override {
    torch::nn::Linear fresh(numFeatures_, numClasses);
    initLinear(*fresh);
    head = replace_module("head", fresh);
  }

  int64_t numClasses() const override { return head->options.out_features(); }

 private:
  std::string name_;
  int64_t numFeatures_;
  torch::nn::ModuleList features{nullptr};
  PatchEmbed embed_{nullptr};
  std::vector<std::vector<SwinBlock>> stages_;
  std::vector<PatchMerging> merges_;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};

ModelInfo swinV2TInfo() {
  ModelInfo info;
  info.name = "swin_v2_t";
  info.imagenetWeights = "swin_v2_t-b137f0e2.pth";
  info.inputSize = 256;
  // Windows and patch merging pad any size (as torchvision does); the ImageNet weights
  // are for 256x256 (an 8x8 grid in the last stage: exactly one window).
  info.fixedInputSize = false;
  info.transformer = true;
  info.bf16NeedsLibTorch2 = true;  // 1.13: layer_norm "expected scalar type BFloat16 but found Float"
  info.defaultLr = 1e-4;
  info.headPrefixes = {"head."};
  info.groups = {
      {"head", {"head.", "norm."}},
      {"stage4", {"features.6.", "features.7."}},
      {"stage3", {"features.4.", "features.5."}},
      {"stage2", {"features.2.", "features.3."}},
      {"stage1", {"features.1."}},
      {"stem", {"features.0."}},
  };
  info.camLayers = {"stage2", "stage3", "stage4"};
  info.imagenetParams = 28351570;
  return info;
}

}  // namespace

std::vector<RegistryEntry> swinEntries() {
  static const SwinConfig tiny{"swin_v2_t", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 8, 0.2};
  return {{swinV2TInfo(), [](int64_t n) { return std::make_shared<SwinTransformerV2>(tiny, n); }}};
}

}  // namespace thtl::models
