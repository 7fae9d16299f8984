// The Session: device, random streams, precision and layout, parameter groups, batches and
// the optimiser.
#include "train/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "common/env.h"
#include "common/errors.h"
#include "common/fs.h"
#include "common/torch_compat.h"
#include "train/session_internal.h"

namespace thtl::train {

using namespace detail;

torch::Device parseDevice(const std::string& spec) {
  if (spec.empty() || spec == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || startsWith(spec, "cuda:")) {
    if (!torch::cuda::is_available())
      throw UserError("device '" + spec + "' requested but CUDA is not available " +
                      "(this LibTorch has no CUDA, or no GPU is visible); use --device cpu");
    int64_t index = 0;
    if (spec.size() > 5) {
      try {
        index = std::stoll(spec.substr(5));
      } catch (...) {
        throw UserError("bad device '" + spec + "' (expected cpu, cuda, cuda:N or auto)");
      }
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (index < 0 || index >= count)
      throw UserError("device '" + spec + "' does not exist (" + std::to_string(count) +
                      " CUDA device(s) visible)");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UserError("bad device '" + spec + "' (expected cpu, cuda, cuda:N or auto)");
}

Session::Session(const std::string& modelName, int64_t numClasses, const std::string& device,
                 uint64_t seed)
    : entry_(&models::findModel(modelName)), device_(parseDevice(device)) {
  if (numClasses < 2) throw UserError("numClasses must be at least 2, got " + std::to_string(numClasses));
  torch::manual_seed(seed);
  model_ = entry_->build(numClasses);
  model_->to(device_);
  rebuildOptimizer();
  rngState_ = at::detail::getDefaultCPUGenerator().get_state();
  // torch::manual_seed seeded every visible GPU's generator too: this device's is the
  // session's CUDA stream from here on.
  if (device_.is_cuda()) cudaRngState_ = cudaGenerator().get_state();
}

at::Generator Session::cudaGenerator() const {
  return at::globalContext().defaultGenerator(device_);
}

namespace {
// Puts `state` (when defined) into `g` and returns the state it replaced, under g's lock.
torch::Tensor exchangeState(at::Generator g, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(g.mutex());
  torch::Tensor before = g.get_state();
  if (state.defined()) g.set_state(state);
  return before;
}
}  // namespace

Session::OwnRng::OwnRng(Session& s) : session_(s) {
  outside_ = exchangeState(at::detail::getDefaultCPUGenerator(), s.rngState_);
  if (s.device_.is_cuda()) {
    outsideCuda_ = exchangeState(s.cudaGenerator(), s.cudaRngState_);
    auto& ctx = at::globalContext();
    outsideBenchmark_ = ctx.benchmarkCuDNN();
    outsideDeterministic_ = ctx.deterministicCuDNN();
    ctx.setBenchmarkCuDNN(s.cudnnBenchmark_);
    ctx.setDeterministicCuDNN(!s.cudnnBenchmark_);
  }
}

Session::OwnRng::~OwnRng() {
  session_.rngState_ = exchangeState(at::detail::getDefaultCPUGenerator(), outside_);
  if (session_.device_.is_cuda()) {
    try {
      session_.cudaRngState_ = exchangeState(session_.cudaGenerator(), outsideCuda_);
    } catch (...) {  // a destructor must not throw; the session keeps its last state
    }
    auto& ctx = at::globalContext();
    ctx.setBenchmarkCuDNN(outsideBenchmark_);
    ctx.setDeterministicCuDNN(outsideDeterministic_);
  }
}

void Session::setPrecision(const std::string& name) {
  if (name == "fp32") {
    precision_ = Precision::Fp32;
  } else if (name == "bf16") {
    precision_ = Precision::Bf16;
  } else if (name == "fp16") {
    if (!device_.is_cuda())
      throw UserError("precision fp16 needs a CUDA device (its loss scaling is CUDA's); use bf16 on " + device_.str());
    precision_ = Precision::Fp16;
  } else {
    throw UserError("unknown precision '" + name + "' (expected fp32, bf16 or fp16)");
  }
  if (precision_ == Precision::Fp16 && !ampScale_.defined()) {
    const auto opts = torch::TensorOptions().device(device_);
    ampScale_ = torch::full({1}, 65536.0, opts.dtype(torch::kFloat));
    ampGrowth_ = torch::zeros({1}, opts.dtype(torch::kInt));
  }
}

std::string Session::precision() const {
  switch (precision_) {
    case Precision::Bf16: return "bf16";
    case Precision::Fp16: return "fp16";
    default: return "fp32";
  }
}

void Session::setChannelsLast(bool on) {
  channelsLast_ = on;
  useLayout(on);
}

void Session::useLayout(bool channelsLast) {
  weightsChannelsLast_ = channelsLast;
  const auto format = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  torch::NoGradGuard noGrad;
  for (auto& p : model_->parameters())
    if (p.dim() == 4 && !p.is_contiguous(format)) p.set_data(p.contiguous(format));
  for (auto& b : model_->buffers())
    if (b.dim() == 4 && !b.is_contiguous(format)) b.set_data(b.contiguous(format));
}

std::optional<bool> channelsLastOverride() { return envSwitch("THTL_CHANNELS_LAST"); }

bool Session::defaultTrainChannelsLast() const {
  // Measured (fp32, batch 8, 2 threads, docs/BENCHMARKS.md): the convolutional models'
  // training steps are 4-28% faster in channels_last on LibTorch 1.13 and 2.13, but
  // vgg19's (registry: cpuChannelsLast). Channels_last batches into NCHW weights are not
  // enough (inception_v3 as slow as NCHW): the weights change layout too.
  return channelsLastOverride().value_or(device_.is_cpu() && !info().transformer && info().cpuChannelsLast &&
                                         at::hasMKLDNN());
}

std::unique_ptr<compat::AutocastGuard> Session::autocast() const {
  if (precision_ == Precision::Fp32) return nullptr;
  return std::make_unique<compat::AutocastGuard>(device_.type(),
                                                 precision_ == Precision::Fp16 ? torch::kHalf : torch::kBFloat16);
}

torch::Tensor Session::inModelLayout(const torch::Tensor& x) const {
  return weightsChannelsLast_ && x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

void Session::backwardAndStep(const torch::Tensor& loss) {
  if (precision_ != Precision::Fp16) {
    loss.backward();
    optimizer_->step();
    return;
  }
  (loss * ampScale_).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model_->parameters())
    if (p.grad().defined()) grads.push_back(p.grad());
  torch::Tensor foundInf = torch::zeros({1}, ampScale_.options());
  at::_amp_foreach_non_finite_check_and_unscale_(grads, foundInf, ampScale_.reciprocal());
  // The one host sync of a step, as in PyTorch's GradScaler.step: skip on overflow.
  if (foundInf.item<float>() == 0.0f) optimizer_->step();
  at::_amp_update_scale_(ampScale_, ampGrowth_, foundInf, 2.0, 0.5, 2000);
}

int64_t Session::paramCount(bool trainableOnly) const {
  int64_t n = 0;
  for (const auto& p : model_->parameters())
    if (!trainableOnly || p.requires_grad()) n += p.numel();
  return n;
}

void Session::replaceHead(int64_t numClasses) {
  if (numClasses < 2) throw UserError("numClasses must be at least 2, got " + std::to_string(numClasses));
  model_->replaceHead(numClasses);
  model_->to(device_);
  applyTrainable();
  rebuildOptimizer();
}

std::vector<std::string> Session::groupNames() const {
  std::vector<std::string> names;
  for (const auto& g : entry_->info.groups) names.push_back(g.name);
  return names;
}

void Session::checkGroupNames(const std::vector<std::string>& groups) const {
  const auto names = groupNames();
  for (const auto& g : groups)
    if (std::find(names.begin(), names.end(), g) == names.end())
      throw UserError("model " + entry_->info.name + " has no group '" + g + "' (groups: " + joinNames(names) + ")");
}

void Session::setTrainableGroups(const std::vector<std::string>& groups) {
  checkGroupNames(groups);
  trainable_ = groups;
  applyTrainable();
}

void Session::applyTrainable() {
  std::vector<std::string> prefixes;
  for (const auto& g : entry_->info.groups)
    if (std::find(trainable_.begin(), trainable_.end(), g.name) != trainable_.end())
      prefixes.insert(prefixes.end(), g.prefixes.begin(), g.prefixes.end());
  for (auto& item : model_->named_parameters()) {
    bool on = trainable_.empty() || nn::isLoraKey(item.key()) ||  // LoRA adapters always train
              std::any_of(prefixes.begin(), prefixes.end(),
                          [&](const std::string& p) { return startsWith(item.key(), p); });
    item.value().set_requires_grad(on);
  }
}

data::Normalisation Session::normalisation() const {
  return data::Normalisation{entry_->info.mean, entry_->info.std};
}

torch::Tensor Session::batchOnDevice(const data::ImageCache& images, const std::vector<int64_t>& idx,
                                     bool augment, std::mt19937_64& rng) const {
  if (device_.is_cpu()) return data::makeBatch(images, idx, augment, rng, normalisation());
  // On a GPU: ship the uint8 pixels (a quarter of the float bytes) and normalise and flip
  // there, with makeBatch's flips (drawFlips) and its values (one table): a seed gives the
  // same batch, bit for bit, on every device.
  data::checkIndices(images, idx);
  const std::vector<uint8_t> flips = data::drawFlips(idx.size(), augment, rng);
  torch::Tensor u8 = images.pixels.index_select(0, torch::tensor(idx, torch::kLong)).pin_memory();
  return data::normaliseOnDevice(u8.to(device_, /*non_blocking=*/true), flips, normalisation());
}

void Session::enterTrainMode() {
  model_->train();
  if (!frozenBnEval_) return;
  for (const auto& m : model_->modules(/*include_self=*/false)) {
    auto* bn = m->as<torch::nn::BatchNorm2d>();
    if (bn && bn->weight.defined() && !bn->weight.requires_grad()) bn->eval();
  }
}

void Session::configureOptimizer(const OptimConfig& cfg) {
  if (!(cfg.lr > 0) || cfg.stepSize < 1 || !(cfg.gamma > 0))
    throw UserError("bad optimiser settings (lr > 0, step size >= 1, gamma > 0 required)");
  optim_ = cfg;
  schedulerEpoch_ = 0;
  rebuildOptimizer();
}

void Session::rebuildOptimizer() {
  // Adam with PyTorch's defaults over every parameter: frozen ones get no gradient
  // and are skipped by the update, exactly as in the PyTorch reference.
  optimizer_ = std::make_unique<torch::optim::Adam>(model_->parameters(),
                                                    torch::optim::AdamOptions(currentLr()));
}

double Session::currentLr() const {
  return optim_.lr * std::pow(optim_.gamma, static_cast<double>(schedulerEpoch_ / optim_.stepSize));
}

void Session::checkLabels(const data::ImageCache& images, const std::vector<int32_t>& labels) const {
  if (labels.size() != images.files.size())
    throw UserError("got " + std::to_string(labels.size()) + " labels for " +
                    std::to_string(images.files.size()) + " images");
  const int64_t c = numClasses();
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= c)
      throw UserError("label " + std::to_string(labels[i]) + " of " + images.files[i] +
                      " is outside 0.." + std::to_string(c - 1));
}

}  // namespace thtl::train
