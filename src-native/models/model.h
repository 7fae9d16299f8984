// The interface every architecture implements, and the registry of per-model facts.
#pragma once
#include <torch/torch.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/imagenet.h"

namespace thtl::models {

// A named set of parameters, selected by state_dict key prefix ("layer4.", "conv1.").
struct Group {
  std::string name;
  std::vector<std::string> prefixes;
};

// One row of the registry: the single source of truth for a model's facts.
struct ModelInfo {
  std::string name;
  int64_t inputSize = 224;        // square input the ImageNet weights were trained at
  bool fixedInputSize = false;    // true where the architecture cannot take another size
  bool transformer = false;       // attention blocks (ViT, Swin, MaxViT); --precision auto keeps these fp32
  // bfloat16 training needs a kernel LibTorch 1.x lacks on the CPU (measured on 1.13:
  // MobileNetV2's ReLU6 backward, SwinV2's and MaxViT's layer_norm); --precision auto keeps
  // such a model fp32 there
  bool bf16NeedsLibTorch2 = false;
  // channels_last is the memory format of its training steps on the CPU unless told (with
  // oneDNN; not for transformers: Session::defaultTrainChannelsLast); false where it
  // measured no faster
  bool cpuChannelsLast = true;
  double defaultLr = 1e-3;        // the paper's learning rate for this model
  std::vector<std::string> headPrefixes;  // state_dict prefixes of the replaced head(s)
  std::vector<Group> groups;      // ordered from head to stem (freezing, SWFT)
  std::vector<std::string> camLayers;     // default LayerCAM layers (group names)
  int64_t imagenetParams = 0;     // parameter count with the 1000-class head
  // torchvision's published ImageNet weight file (its name ends in the file's SHA-256
  // prefix), and the per-channel normalisation those weights expect of the input.
  std::string imagenetWeights;
  std::array<double, 3> mean = kImagenetMean;
  std::array<double, 3> std = kImagenetStd;
  // Rewrites a key of an older published weight file to today's name (DenseNet's
  // "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight"); unset: keys as they are.
  std::function<std::string(const std::string&)> legacyKeyName;
};

// How a tapped feature map is laid out (LayerCAM turns every layout into [N, C, H, W]).
enum class FeatureLayout {
  NCHW,    // convolutional feature maps
  NHWC,    // channels-last (SwinV2)
  Tokens,  // [N, 1 + H*W, C]: a class token, then a square grid of patch tokens (ViT)
};

// A tensor recorded by Model::tap during a capturing forward pass.
struct Tapped {
  torch::Tensor tensor;  // the tensor the forward pass used (part of the autograd graph)
  FeatureLayout layout = FeatureLayout::NCHW;
};
// Group name -> tapped tensor. The keys present before the forward pass select what is
// recorded; their values are filled in by tap().
using TapMap = std::map<std::string, Tapped>;

// Every architecture derives from Model; parameter names equal torchvision's keys.
class Model : public torch::nn::Module {
 public:
  // Logits of the main classifier (what evaluation uses).
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Training outputs: the main logits first, then auxiliary logits (if any), each
  // with its loss weight. Default: just the main output.
  virtual std::vector<std::pair<torch::Tensor, double>> forwardTrain(torch::Tensor x) {
    return {{forward(x), 1.0}};
  }
  // Replace the classification head(s) with freshly initialised ones for `numClasses`.
  virtual void replaceHead(int64_t numClasses) = 0;
  virtual int64_t numClasses() const = 0;

  // Activation capture without module hooks (LayerCAM). While a TapMap is attached, the
  // forward pass records, for every key already in the map, the tensor at that group's
  // output. Outputs are unchanged (taps return their input; no extra copies).
  // camLayerNames(): the groups this model can tap, in forward order (every group with
  // a spatial output; the classifier groups have none).
  const std::vector<std::string>& camLayerNames() const { return tapNames_; }
  void attachTaps(TapMap* taps) { taps_ = taps; }
  void detachTaps() { taps_ = nullptr; }

 protected:
  // Declares the tap names (constructor of each family, forward order).
  void declareTaps(std::vector<std::string> names) { tapNames_ = std::move(names); }
  // A group that ends at a child of a Sequential: the child's index and the tap name.
  using SequentialTaps = std::vector<std::pair<size_t, std::string>>;
  // Runs `seq` child by child, as Sequential::forward does, tapping the output of each
  // child listed in `taps` (ascending indices) under its name.
  torch::Tensor forwardTapped(torch::nn::Sequential& seq, torch::Tensor x, const SequentialTaps& taps) {
    size_t i = 0;
    auto next = taps.begin();
    for (auto& module : *seq) {
      x = module.forward(x);
      if (next != taps.end() && next->first == i) x = tap(next++->second, x);
      ++i;
    }
    return x;
  }
  // Records x under `group` when a TapMap asking for it is attached; returns x. A tensor
  // outside the autograd graph (every parameter before it frozen, input without grad)
  // becomes a leaf that requires grad, so gradients of the class score still reach it;
  // its values are the same (a detached alias, no copy).
  torch::Tensor tap(const char* group, torch::Tensor x, FeatureLayout layout = FeatureLayout::NCHW) {
    if (!taps_) return x;
    auto it = taps_->find(group);
    if (it == taps_->end()) return x;
    if (!x.requires_grad() && torch::GradMode::is_enabled()) x = x.detach().requires_grad_(true);
    it->second = {x, layout};
    return x;
  }
  torch::Tensor tap(const std::string& group, torch::Tensor x, FeatureLayout layout = FeatureLayout::NCHW) {
    return tap(group.c_str(), std::move(x), layout);
  }

 private:
  std::vector<std::string> tapNames_;
  TapMap* taps_ = nullptr;
};
using ModelPtr = std::shared_ptr<Model>;

struct RegistryEntry {
  ModelInfo info;
  std::function<ModelPtr(int64_t numClasses)> build;
};

const std::vector<RegistryEntry>& registry();
// Throws UserError naming the unknown model and listing the known ones.
const RegistryEntry& findModel(const std::string& name);

}  // namespace thtl::models
