// A training session: one model, its optimiser (Adam) and StepLR schedule, on a device.
// Pure C++; session_napi.cc exposes it to JavaScript.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cam/layercam.h"
#include "common/torch_compat.h"
#include "data/images.h"
#include "io/weights.h"
#include "models/model.h"
#include "nn/lora.h"

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

// Pooled features of the images of a set (Session::features): one row per usable image.
struct FeatureResult {
  double seconds = 0;
  int64_t n = 0, dim = 0;
  std::string layer;             // the tapped group
  std::vector<float> features;   // n x dim
  std::vector<int32_t> indices;  // cache indices, in row order (bad images excluded)
};

struct OptimConfig {
  double lr = 1e-3;
  int64_t stepSize = 5;  // StepLR
  double gamma = 0.5;
};

// Called after every batch: (batch index from 1, batches, running mean loss).
using BatchProgress = std::function<void(int64_t, int64_t, double)>;

torch::Device parseDevice(const std::string& spec);  // cpu | cuda | cuda:N | auto

// THTL_CHANNELS_LAST: "0" -> false, "1" -> true (every session's default memory format
// for its training steps, Session::defaultTrainChannelsLast); unset or anything else -> none.
std::optional<bool> channelsLastOverride();

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
  // Mixed precision of the forward passes of training, evaluation and predict:
  // "fp32" (none), "bf16" (autocast to bfloat16, CPU and CUDA) or "fp16" (autocast to
  // float16 with dynamic loss scaling, CUDA only). Losses, softmax and the optimiser stay
  // in float32; LayerCAM always runs in float32. Throws UserError on another name or on
  // fp16 off CUDA.
  void setPrecision(const std::string& name);
  std::string precision() const;
  // The channels_last (NHWC) memory format for 4-D weights and input batches, in
  // everything the session does (on), or NCHW (off: the training steps too).
  void setChannelsLast(bool on);
  bool channelsLast() const { return channelsLast_; }
  // channels_last for the training steps only: trainEpoch puts the weights (and its
  // batches) in channels_last, evaluate, features, predict and LayerCAM put them back in
  // NCHW, where the results equal torchvision's to the bit. A switch costs one copy of the
  // 4-D weights; only the order of the arithmetic changes, not the model's math.
  void setTrainChannelsLast(bool on) { trainChannelsLast_ = on; }
  // The memory format the training steps use: channels_last with either setting above.
  bool trainChannelsLast() const { return channelsLast_ || trainChannelsLast_; }
  // What setTrainChannelsLast is unless told: on for a convolutional model (not a
  // transformer; not vgg19, registry cpuChannelsLast) on the CPU where LibTorch has oneDNN,
  // whose convolutions train fastest in NHWC (torch.compile's CPU backend chooses it too);
  // off elsewhere. THTL_CHANNELS_LAST=0 / =1 override the choice (channelsLastOverride).
  bool defaultTrainChannelsLast() const;

  EpochStats trainEpoch(const data::ImageCache& images, const std::vector<int32_t>& labels,
                        int64_t batchSize, uint64_t seed, const BatchProgress& progress);
  EvalResult evaluate(const data::ImageCache& images, const std::vector<int32_t>& labels,
                      int64_t batchSize, const BatchProgress& progress);
  // Eval-mode features: the output of the tappable group `layer` (empty: the last one, the
  // backbone's end) averaged over its spatial positions (patch tokens for a ViT, the class
  // token left out), batched as evaluate() batches. Throws UserError on an unknown layer.
  FeatureResult features(const data::ImageCache& images, int64_t batchSize, const std::string& layer,
                         const BatchProgress& progress);
  // Eval-mode logits for a float input [N, 3, H, W] (CPU tensor in, CPU tensor out).
  torch::Tensor predict(const torch::Tensor& input);
  // LayerCAM (cam/layercam.h) of a normalised float batch [N, 3, H, W] (CPU tensor in,
  // CPU tensors out); empty `layers`: info().camLayers. Throws UserError on unknown
  // layers (listing the valid ones), out-of-range classes or an unknown fusion.
  cam::CamResult layerCam(const torch::Tensor& input, const std::vector<std::string>& layers,
                          const std::vector<int64_t>& classes, const std::string& fusion);
  // The same for images of an image set, batched exactly as evaluate() batches them
  // (the model's normalisation, no flip). Throws UserError on an index outside the set or
  // an image that failed to decode.
  // Every layer name layerCam accepts (the model's tappable groups, forward order).
  const std::vector<std::string>& camLayerNames() const { return model_->camLayerNames(); }
  cam::CamResult layerCamImages(const data::ImageCache& images, const std::vector<int64_t>& indices,
                                const std::vector<std::string>& layers, const std::vector<int64_t>& classes,
                                const std::string& fusion);

  // Checkpoint: model, optimiser, scheduler, epoch counter, RNG state and a JSON string.
  void saveCheckpoint(const std::string& path, const std::string& metaJson);
  std::string loadCheckpoint(const std::string& path);  // returns the JSON string
  // .safetensors state dict. With LoRA adapters: merged weights under the plain model's
  // keys (default), or with mergeAdapters false the raw base weights plus the adapters'
  // lora_A / lora_B keys.
  void saveWeights(const std::string& path, bool mergeAdapters = true);

  // LoRA (nn/lora.h): adapters on the Conv2d/Linear modules of `groups` (group names of
  // info().groups; the head group, groups[0], is never adapted and trains fully). After
  // it, base parameters are frozen except the head group's; the adapters train. Throws
  // UserError on an unknown group, rank < 1, alpha <= 0, or when adapters already exist.
  // Call it before loadCheckpoint of a checkpoint saved with adapters (same settings).
  nn::LoraReport applyLora(const std::vector<std::string>& groups, int64_t rank, double alpha);
  // Folds the adapters into the base weights and removes them (state keys as the plain
  // model's again); the trainable groups stay as they were (the head).
  void mergeLora();
  bool hasLora() const { return !lora_.empty(); }
  const nn::LoraSet& lora() const { return lora_; }
  std::vector<std::string> loraGroups() const { return loraGroups_; }
  // Sets adapted modules' weights to base + delta; call right before any model forward
  // (under that forward's grad mode). A no-op without adapters.
  void refreshAdapters() { lora_.refresh(); }

  std::mutex mutex;  // one native call at a time per session

  // While alive, LibTorch's default CPU generator (and, on a GPU, that device's CUDA
  // generator) holds this session's own random state (dropout, stochastic depth draw from
  // it), which is put back in the session after: each session draws from its own stream,
  // whatever other sessions ran in between. On a GPU it also sets cuDNN's process-wide
  // algorithm choice to this session's (autotuned, or deterministic) and restores the
  // previous one after, so that one session's setting never leaks into another's work.
  // Every task holds one (tasks run one at a time, on the compute thread).
  class OwnRng {
   public:
    explicit OwnRng(Session& s);
    ~OwnRng();
    OwnRng(const OwnRng&) = delete;
    OwnRng& operator=(const OwnRng&) = delete;

   private:
    Session& session_;
    torch::Tensor outside_, outsideCuda_;
    bool outsideBenchmark_ = false, outsideDeterministic_ = false;
  };

  // cuDNN algorithm choice on a GPU while this session works: autotuned (the fastest for
  // the batch shapes; the default) or deterministic (the same bits every run, slower).
  void setCudnnBenchmark(bool on) { cudnnBenchmark_ = on; }
  bool cudnnBenchmark() const { return cudnnBenchmark_; }

 private:
  std::vector<std::string> groupNames() const;  // info().groups, head first
  // Throws UserError naming the first unknown group and listing the model's groups.
  void checkGroupNames(const std::vector<std::string>& groups) const;
  void rebuildOptimizer();
  void applyTrainable();
  void enterTrainMode();
  torch::Tensor batchOnDevice(const data::ImageCache& images, const std::vector<int64_t>& idx,
                              bool augment, std::mt19937_64& rng) const;
  data::Normalisation normalisation() const;  // the registry's mean/std of this model
  at::Generator cudaGenerator() const;         // this session's GPU's default generator
  void checkLabels(const data::ImageCache& images, const std::vector<int32_t>& labels) const;
  // Autocast for this session's precision on its device (nullptr for fp32).
  std::unique_ptr<compat::AutocastGuard> autocast() const;
  torch::Tensor inModelLayout(const torch::Tensor& x) const;
  // Puts the 4-D parameters and buffers in channels_last (true) or NCHW; those already
  // so are not copied.
  void useLayout(bool channelsLast);
  // Backward and Adam step; with fp16, through the dynamic loss scale (GradScaler's
  // defaults: 2^16, doubled after 2000 steps without overflow, halved and the step
  // skipped on one).
  void backwardAndStep(const torch::Tensor& loss);
  // Runs `fn`; a LibTorch error about a missing bfloat16/float16 kernel becomes a
  // UserError that names the model, the precision and the way out.
  template <typename Fn>
  auto withPrecisionHint(Fn&& fn) -> decltype(fn());
  EpochStats trainEpochImpl(const data::ImageCache& images, const std::vector<int32_t>& labels,
                            int64_t batchSize, uint64_t seed, const BatchProgress& progress);
  // Eval mode, no gradients, LoRA merged: fn(batch indices, the batch on the device in the
  // model's layout, batch number from 1, batches) for the usable images, in order, batched
  // as evaluate() batches (no flip). Returns the number of images.
  using EvalBatchFn = std::function<void(const std::vector<int64_t>&, const torch::Tensor&, int64_t, int64_t)>;
  int64_t evalBatches(const data::ImageCache& images, int64_t batchSize, const EvalBatchFn& fn);
  EvalResult evaluateImpl(const data::ImageCache& images, const std::vector<int32_t>& labels,
                          int64_t batchSize, const BatchProgress& progress);

  const models::RegistryEntry* entry_;
  models::ModelPtr model_;
  torch::Device device_;
  std::vector<std::string> trainable_;  // empty: all
  OptimConfig optim_;
  bool frozenBnEval_ = false;
  enum class Precision { Fp32, Bf16, Fp16 } precision_ = Precision::Fp32;
  bool channelsLast_ = false;       // setChannelsLast
  bool trainChannelsLast_ = false;  // setTrainChannelsLast
  bool weightsChannelsLast_ = false;  // the layout the 4-D weights are in now (useLayout)
  torch::Tensor ampScale_, ampGrowth_;  // fp16 only: the loss scale and steps since it grew
  int64_t schedulerEpoch_ = 0;  // epochs stepped by StepLR
  std::unique_ptr<torch::optim::Adam> optimizer_;
  nn::LoraSet lora_;
  std::vector<std::string> loraGroups_;  // adapted groups, in info().groups order
  torch::Tensor rngState_;      // this session's CPU generator state between tasks (OwnRng)
  torch::Tensor cudaRngState_;  // and its CUDA generator's, on a GPU
  bool cudnnBenchmark_ = true;
  // rebuildOptimizer(), keeping Adam's state of parameters that are still there.
  void rebuildOptimizerKeepingState();
};

}  // namespace thtl::train
