// The interface every architecture implements, and the registry of per-model facts.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

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
  double defaultLr = 1e-3;        // the paper's learning rate for this model
  std::vector<std::string> headPrefixes;  // state_dict prefixes of the replaced head(s)
  std::vector<Group> groups;      // ordered from head to stem (freezing, SWFT)
  std::vector<std::string> camLayers;     // default LayerCAM layers (group names)
  int64_t imagenetParams = 0;     // parameter count with the 1000-class head
  // Rewrites a key of an older published weight file to today's name (DenseNet's
  // "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight"); unset: keys as they are.
  std::function<std::string(const std::string&)> legacyKeyName;
};

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
