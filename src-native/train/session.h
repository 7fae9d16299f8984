// A training session: one model, its optimiser (Adam) and StepLR schedule, on a device.
// Pure C++; session_napi.cc exposes it to JavaScript.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/images.h"
#include "io/weights.h"
#include "models/model.h"

namespace thtl::train {

struct EpochStats {
  double loss = 0, accuracy = 0, seconds = 0, lr = 0;
  int64_t samples = 0, batches = 0;
};

struct EvalResult {
  double loss = 0, seconds = 0;
  int64_t n = 0, numClasses = 0;
  std::vector<float> probs;      // n x numClasses, softmax of the main output
  std::vector<int32_t> labels;   // the true labels, in the evaluated order
  std::vector<int32_t> indices;  // cache indices evaluated (bad images excluded)
};

struct OptimConfig {
  double lr = 1e-3;
  int64_t stepSize = 5;  // StepLR
  double gamma = 0.5;
};

// Called after every batch: (batch index from 1, batches, running mean loss).
using BatchProgress = std::function<void(int64_t, int64_t, double)>;

torch::Device parseDevice(const std::string& spec);  // cpu | cuda | cuda:N | auto

class Session {
 public:
  Session(const std::string& modelName, int64_t numClasses, const std::string& device,
          uint64_t seed);

  const models::ModelInfo& info() const { return entry_->info; }
  torch::Device device() const { return device_; }
  int64_t numClasses() const { return model_->numClasses(); }
  int64_t paramCount(bool trainableOnly) const;
  struct StateKey {
    std::string name;
    std::vector<int64_t> shape;
    bool parameter;  // false: a buffer (BatchNorm statistics, index tables)
    bool trainable;
  };
  std::vector<StateKey> stateKeys() const;  // torchvision state_dict order

  // Loads a weight file; a head whose shape differs (another class count) is skipped.
  io::LoadReport loadWeights(const std::string& path);
  void replaceHead(int64_t numClasses);
  // Only parameters of `groups` train; an empty list makes every parameter trainable.
  // Throws UserError on an unknown group name.
  void setTrainableGroups(const std::vector<std::string>& groups);
  std::vector<std::string> trainableGroups() const { return trainable_; }
  // BatchNorm layers whose parameters are frozen: keep updating running statistics in
  // train mode (false, the default, as plain PyTorch requires_grad_(False) code does) or
  // run them in eval mode (true: statistics fixed).
  void setFrozenBatchNormEval(bool eval) { frozenBnEval_ = eval; }
  bool frozenBatchNormEval() const { return frozenBnEval_; }
  void configureOptimizer(const OptimConfig& cfg);
  double currentLr() const;

  EpochStats trainEpoch(const data::ImageCache& images, const std::vector<int32_t>& labels,
                        int64_t batchSize, uint64_t seed, const BatchProgress& progress);
  EvalResult evaluate(const data::ImageCache& images, const std::vector<int32_t>& labels,
                      int64_t batchSize, const BatchProgress& progress);
  // Eval-mode logits for a float input [N, 3, H, W] (CPU tensor in, CPU tensor out).
  torch::Tensor predict(const torch::Tensor& input);

  // Checkpoint: model, optimiser, scheduler, epoch counter, RNG state and a JSON string.
  void saveCheckpoint(const std::string& path, const std::string& metaJson);
  std::string loadCheckpoint(const std::string& path);  // returns the JSON string
  void saveWeights(const std::string& path);              // .safetensors state dict

  std::mutex mutex;  // one native call at a time per session

 private:
  void rebuildOptimizer();
  void applyTrainable();
  void enterTrainMode();
  torch::Tensor batchOnDevice(const data::ImageCache& images, const std::vector<int64_t>& idx,
                              bool augment, std::mt19937_64& rng) const;
  void checkLabels(const data::ImageCache& images, const std::vector<int32_t>& labels) const;

  const models::RegistryEntry* entry_;
  models::ModelPtr model_;
  torch::Device device_;
  std::vector<std::string> trainable_;  // empty: all
  OptimConfig optim_;
  bool frozenBnEval_ = false;
  int64_t schedulerEpoch_ = 0;  // epochs stepped by StepLR
  std::unique_ptr<torch::optim::Adam> optimizer_;
};

}  // namespace thtl::train
