#include "train/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/fs.h"
#include "common/torch_compat.h"

namespace thtl::train {
namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Cache indices that decoded successfully.
std::vector<int64_t> usableIndices(const data::ImageCache& images) {
  std::set<size_t> bad;
  for (const auto& f : images.failures) bad.insert(f.index);
  std::vector<int64_t> out;
  for (size_t i = 0; i < images.files.size(); ++i)
    if (!bad.count(i)) out.push_back(static_cast<int64_t>(i));
  return out;
}

torch::Tensor labelTensor(const std::vector<int32_t>& labels, const std::vector<int64_t>& idx) {
  std::vector<int64_t> y;
  y.reserve(idx.size());
  for (int64_t i : idx) y.push_back(labels[static_cast<size_t>(i)]);
  return torch::tensor(y, torch::kLong);
}

}  // namespace

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
  const auto format = on ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  torch::NoGradGuard noGrad;
  for (auto& p : model_->parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(format));
  for (auto& b : model_->buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(format));
}

std::unique_ptr<compat::AutocastGuard> Session::autocast() const {
  if (precision_ == Precision::Fp32) return nullptr;
  return std::make_unique<compat::AutocastGuard>(device_.type(),
                                                 precision_ == Precision::Fp16 ? torch::kHalf : torch::kBFloat16);
}

torch::Tensor Session::inModelLayout(const torch::Tensor& x) const {
  return channelsLast_ && x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
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

std::vector<Session::StateKey> Session::stateKeys() const {
  std::set<const c10::TensorImpl*> params;
  for (const auto& p : model_->parameters()) params.insert(p.unsafeGetTensorImpl());
  std::vector<StateKey> out;
  for (const auto& [name, t] : io::stateDict(*model_)) {
    (void)t;
    out.push_back({name, {}, false, false});
  }
  // stateDict() returns CPU copies; look the live tensors up for flags.
  auto live = model_->named_parameters();
  auto buffers = model_->named_buffers();
  for (auto& k : out) {
    if (const auto* p = live.find(k.name)) {
      k.parameter = true;
      k.trainable = p->requires_grad();
      k.shape = p->sizes().vec();
    } else if (const auto* b = buffers.find(k.name)) {
      k.shape = b->sizes().vec();
    }
  }
  return out;
}

io::LoadReport Session::loadWeights(const std::string& path) {
  io::NamedTensors tensors = io::readWeightFile(path);
  if (const auto& rename = entry_->info.legacyKeyName)
    for (auto& item : tensors) item.first = rename(item.first);
  // With LoRA adapters: a plain weight file loads into the base weights; the adapters
  // keep their values (their keys are added from the model itself).
  std::set<std::string> keptAdapters;
  if (hasLora()) {
    std::set<std::string> inFile;
    for (const auto& item : tensors) inFile.insert(item.first);
    for (const auto& [name, t] : io::stateDict(*model_))
      if (nn::isLoraKey(name) && !inFile.count(name)) {
        tensors.emplace_back(name, t.clone());
        keptAdapters.insert(name);
      }
  }
  io::LoadReport report = io::loadStateDict(*model_, tensors, entry_->info.headPrefixes, path);
  if (!keptAdapters.empty())
    report.loaded.erase(std::remove_if(report.loaded.begin(), report.loaded.end(),
                                       [&](const std::string& k) { return keptAdapters.count(k) > 0; }),
                        report.loaded.end());
  return report;
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

template <typename Fn>
auto Session::withPrecisionHint(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    if (precision_ == Precision::Fp32 || msg.find("not implemented for '") == std::string::npos) throw;
    throw UserError(entry_->info.name + " cannot train or run in " + precision() + " on this LibTorch (" +
                    TORCH_VERSION + ", " + device_.str() + "): " + msg + "; use --precision fp32" +
                    (TORCH_VERSION_MAJOR < 2 ? " or a build against LibTorch 2.x" : ""));
  }
}

EpochStats Session::trainEpoch(const data::ImageCache& images, const std::vector<int32_t>& labels,
                               int64_t batchSize, uint64_t seed, const BatchProgress& progress) {
  return withPrecisionHint([&] { return trainEpochImpl(images, labels, batchSize, seed, progress); });
}

EvalResult Session::evaluate(const data::ImageCache& images, const std::vector<int32_t>& labels,
                             int64_t batchSize, const BatchProgress& progress) {
  return withPrecisionHint([&] { return evaluateImpl(images, labels, batchSize, progress); });
}

EpochStats Session::trainEpochImpl(const data::ImageCache& images, const std::vector<int32_t>& labels,
                                   int64_t batchSize, uint64_t seed, const BatchProgress& progress) {
  checkLabels(images, labels);
  if (batchSize < 1) throw UserError("batch size must be at least 1");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> order = usableIndices(images);
  if (order.empty()) throw UserError("no usable training images");
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  // A last batch of one sample cannot pass BatchNorm in training mode: drop it.
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t usable = (n > 1 && n % batchSize == 1) ? n - 1 : n;
  const int64_t batches = (usable + batchSize - 1) / batchSize;

  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(currentLr());
  enterTrainMode();
  EpochStats st;
  st.lr = currentLr();
  double lossSum = 0;
  int64_t correct = 0;
  auto nonFinite = [&](double value, int64_t b) {
    return UserError("training loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") +
                     " at batch " + std::to_string(b + 1) + "/" + std::to_string(batches) +
                     " (lr " + std::to_string(currentLr()) + "); lower the learning rate");
  };
  // On the CPU a loss is a number in memory: read it every batch. On a GPU each read
  // waits for the queued work, so losses and hits stay on the device and are read at
  // most once a second (for progress) and at the end of the epoch.
  const bool syncEachBatch = !device_.is_cuda();
  std::vector<torch::Tensor> batchLosses;  // GPU: each batch's mean loss, on the device
  torch::Tensor correctOnDevice;
  size_t lossesRead = 0;
  int64_t samplesRead = 0;
  double lossSumRead = 0;
  auto lastRead = std::chrono::steady_clock::now();
  auto readLosses = [&](int64_t upTo) {  // batches [lossesRead, upTo): one transfer
    if (static_cast<size_t>(upTo) <= lossesRead) return lossSumRead;
    std::vector<torch::Tensor> pending(batchLosses.begin() + static_cast<std::ptrdiff_t>(lossesRead), batchLosses.end());
    const torch::Tensor values = torch::stack(pending).to(torch::kCPU, torch::kDouble);
    const double* v = values.data_ptr<double>();
    for (size_t i = 0; i < pending.size(); ++i, ++lossesRead) {
      const int64_t lo = static_cast<int64_t>(lossesRead) * batchSize;
      const int64_t bs = std::min(usable, lo + batchSize) - lo;
      if (!std::isfinite(v[i])) throw nonFinite(v[i], static_cast<int64_t>(lossesRead));
      lossSumRead += v[i] * static_cast<double>(bs);
      samplesRead += bs;
    }
    return lossSumRead;
  };
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t lo = b * batchSize, hi = std::min(usable, lo + batchSize);
    std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
    torch::Tensor x = inModelLayout(batchOnDevice(images, idx, /*augment=*/true, rng));
    torch::Tensor y = labelTensor(labels, idx).to(device_, /*non_blocking=*/true);
    optimizer_->zero_grad();
    lora_.refresh();  // adapters changed at the last step: base + delta, with graph
    std::vector<std::pair<torch::Tensor, double>> outputs;
    {
      auto amp = autocast();  // the forward pass only; loss and backward in float32
      outputs = model_->forwardTrain(x);
    }
    torch::Tensor loss = torch::zeros({}, x.options().dtype(torch::kFloat));
    for (auto& [logits, weight] : outputs)
      loss = loss + weight * torch::nn::functional::cross_entropy(logits.to(torch::kFloat), y);
    const int64_t bs = hi - lo;
    if (syncEachBatch) {
      const double value = loss.item<double>();
      if (!std::isfinite(value)) throw nonFinite(value, b);
      lossSum += value * static_cast<double>(bs);
    } else {
      batchLosses.push_back(loss.detach());
    }
    backwardAndStep(loss);
    torch::Tensor hits = outputs.front().first.argmax(1).eq(y).sum();
    if (syncEachBatch) correct += hits.item<int64_t>();
    else correctOnDevice = correctOnDevice.defined() ? correctOnDevice + hits : hits;
    st.samples += bs;
    if (!syncEachBatch && (b + 1 == batches || secondsSince(lastRead) >= 1.0)) {
      lossSum = readLosses(b + 1);  // at most once a second, for the progress line
      lastRead = std::chrono::steady_clock::now();
    }
    if (progress) progress(b + 1, batches, lossSum / static_cast<double>(syncEachBatch ? st.samples : samplesRead));
  }
  if (!syncEachBatch) correct = correctOnDevice.item<int64_t>();
  ++schedulerEpoch_;  // StepLR.step() once per epoch, after the epoch
  st.batches = batches;
  st.loss = lossSum / static_cast<double>(st.samples);
  st.accuracy = static_cast<double>(correct) / static_cast<double>(st.samples);
  st.seconds = secondsSince(t0);
  return st;
}

int64_t Session::evalBatches(const data::ImageCache& images, int64_t batchSize, const EvalBatchFn& fn) {
  if (batchSize < 1) throw UserError("batch size must be at least 1");
  const std::vector<int64_t> order = usableIndices(images);
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t batches = (n + batchSize - 1) / batchSize;
  torch::NoGradGuard noGrad;
  model_->eval();
  lora_.refresh();  // no-grad: merged weights without graph
  std::mt19937_64 unused(0);
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t lo = b * batchSize, hi = std::min(n, lo + batchSize);
    const std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
    fn(idx, inModelLayout(batchOnDevice(images, idx, /*augment=*/false, unused)), b + 1, batches);
  }
  return n;
}

EvalResult Session::evaluateImpl(const data::ImageCache& images, const std::vector<int32_t>& labels,
                                 int64_t batchSize, const BatchProgress& progress) {
  checkLabels(images, labels);
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r;
  r.numClasses = numClasses();
  double lossSum = 0;
  int64_t seen = 0;
  r.n = evalBatches(images, batchSize, [&](const std::vector<int64_t>& idx, const torch::Tensor& x, int64_t b, int64_t batches) {
    seen += static_cast<int64_t>(idx.size());
    torch::Tensor y = labelTensor(labels, idx).to(device_, /*non_blocking=*/true);
    torch::Tensor logits;
    {
      auto amp = autocast();
      logits = model_->forward(x);
    }
    logits = logits.to(torch::kFloat);
    lossSum += torch::nn::functional::cross_entropy(
                   logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .item<double>();
    torch::Tensor p = torch::softmax(logits, 1).to(torch::kCPU, torch::kFloat).contiguous();
    r.probs.insert(r.probs.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    for (int64_t i : idx) {
      r.labels.push_back(labels[static_cast<size_t>(i)]);
      r.indices.push_back(static_cast<int32_t>(i));
    }
    if (progress) progress(b, batches, lossSum / static_cast<double>(seen));
  });
  r.loss = r.n > 0 ? lossSum / static_cast<double>(r.n) : 0.0;
  r.seconds = secondsSince(t0);
  return r;
}

FeatureResult Session::features(const data::ImageCache& images, int64_t batchSize, const std::string& layer,
                                const BatchProgress& progress) {
  const auto& names = model_->camLayerNames();
  if (names.empty()) throw UserError(info().name + " has no layer to take features from");
  const std::string group = layer.empty() ? names.back() : layer;
  if (std::find(names.begin(), names.end(), group) == names.end())
    throw UserError("features: " + info().name + " has no layer '" + group + "' (layers: " + joinNames(names, ", ") + ")");
  return withPrecisionHint([&] {
    const auto t0 = std::chrono::steady_clock::now();
    FeatureResult r;
    r.layer = group;
    r.n = evalBatches(images, batchSize, [&](const std::vector<int64_t>& idx, const torch::Tensor& x, int64_t b, int64_t batches) {
      models::TapMap taps{{group, {}}};
      model_->attachTaps(&taps);
      try {
        auto amp = autocast();
        model_->forward(x);
      } catch (...) {
        model_->detachTaps();
        throw;
      }
      model_->detachTaps();
      const models::Tapped& t = taps.at(group);
      torch::Tensor f;
      switch (t.layout) {
        case models::FeatureLayout::NCHW: f = t.tensor.mean({2, 3}); break;
        case models::FeatureLayout::NHWC: f = t.tensor.mean({1, 2}); break;
        case models::FeatureLayout::Tokens: f = t.tensor.narrow(1, 1, t.tensor.size(1) - 1).mean(1); break;
      }
      f = f.to(torch::kCPU, torch::kFloat).contiguous();
      r.dim = f.size(1);
      r.features.insert(r.features.end(), f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
      for (int64_t i : idx) r.indices.push_back(static_cast<int32_t>(i));
      if (progress) progress(b, batches, 0.0);
    });
    r.seconds = secondsSince(t0);
    return r;
  });
}

torch::Tensor Session::predict(const torch::Tensor& input) {
  return withPrecisionHint([&] {
    torch::NoGradGuard noGrad;
    model_->eval();
    lora_.refresh();
    auto amp = autocast();
    return model_->forward(inModelLayout(input.to(device_, torch::kFloat))).to(torch::kCPU, torch::kFloat);
  });
}

void Session::saveCheckpoint(const std::string& path, const std::string& metaJson) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("thtl-native checkpoint v1")));
  archive.write("model_name", c10::IValue(entry_->info.name));
  archive.write("num_classes", c10::IValue(numClasses()));
  archive.write("meta", c10::IValue(metaJson));
  torch::serialize::OutputArchive weights;
  for (const auto& [name, tensor] : io::stateDict(*model_)) weights.write(name, tensor, true);
  archive.write("model", weights);
  torch::serialize::OutputArchive optim;
  optimizer_->save(optim);
  archive.write("optimizer", optim);
  archive.write("trainable_groups", c10::IValue(joinNames(trainable_, ",")));
  archive.write("scheduler_epoch", c10::IValue(schedulerEpoch_));
  archive.write("lr", c10::IValue(optim_.lr));
  archive.write("step_size", c10::IValue(optim_.stepSize));
  archive.write("gamma", c10::IValue(optim_.gamma));
  archive.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state(), true);
  // on a GPU, its stream too (dropout there draws from it), so that a resumed run draws
  // what an uninterrupted one would have
  if (device_.is_cuda()) archive.write("rng_cuda", cudaGenerator().get_state(), true);
  // LoRA adapters (rank 0: none); their weights are under model/ like any parameter.
  archive.write("lora_rank", c10::IValue(hasLora() ? lora_.rank() : int64_t{0}));
  archive.write("lora_alpha", c10::IValue(hasLora() ? lora_.alpha() : 0.0));
  archive.write("lora_groups", c10::IValue(joinNames(loraGroups_, ",")));
  if (ampScale_.defined()) {  // fp16's loss scale, so that a resumed run goes on with it
    archive.write("amp_scale", ampScale_.to(torch::kCPU), true);
    archive.write("amp_growth", ampGrowth_.to(torch::kCPU), true);
  }
  writeAtomically(path, [&](const std::string& tmp) {
    FileSink sink(tmp);
    archive.save_to([&](const void* data, size_t n) { return sink.write(data, n); });
    // the checksum trailer catches a damaged or cut checkpoint before it is loaded; a full
    // disk is reported here, naming the file
    sink.closeWithChecksum();
  });
}

std::string Session::loadCheckpoint(const std::string& path) {
  requireReadableFile(path, "checkpoint");
  // Before anything is changed: the checksum (checkpoints written since it was added), then
  // the archive. Either failing is a CorruptFile: the caller may fall back to another copy.
  verifyChecksum(path, "checkpoint " + path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (...) {
    throw CorruptFile("checkpoint " + path + " is not a readable thtl-native checkpoint: " + currentExceptionMessage());
  }
  auto readValue = [&](const char* key) {
    c10::IValue v;
    if (!archive.try_read(key, v))
      throw CorruptFile("checkpoint " + path + " has no '" + key + "' entry (not a thtl-native checkpoint?)");
    return v;
  };
  const std::string modelName = readValue("model_name").toStringRef();
  if (modelName != entry_->info.name)
    throw UserError("checkpoint " + path + " holds a " + modelName + ", not a " + entry_->info.name);
  {
    // Checkpoints older than LoRA support have no lora_* entries: no adapters.
    c10::IValue v;
    const int64_t ckRank = archive.try_read("lora_rank", v) ? v.toInt() : 0;
    const double ckAlpha = ckRank > 0 && archive.try_read("lora_alpha", v) ? v.toDouble() : 0.0;
    const std::string ckGroups = ckRank > 0 && archive.try_read("lora_groups", v) ? v.toStringRef() : "";
    const std::string groups = joinNames(loraGroups_, ",");
    auto describe = [](int64_t r, double a, const std::string& g) {
      std::ostringstream os;
      os << "rank " << r << ", alpha " << a << ", groups " << g;
      return os.str();
    };
    if (ckRank > 0 && !hasLora())
      throw UserError("checkpoint " + path + " holds LoRA adapters (" + describe(ckRank, ckAlpha, ckGroups) +
                      ") but this session has none; call applyLora with these settings before loadCheckpoint");
    if (ckRank == 0 && hasLora())
      throw UserError("checkpoint " + path + " has no LoRA adapters but this session has (" +
                      describe(lora_.rank(), lora_.alpha(), groups) +
                      "); load it into a session without applyLora");
    if (ckRank > 0 && (ckRank != lora_.rank() || ckAlpha != lora_.alpha() || ckGroups != groups))
      throw UserError("checkpoint " + path + " holds LoRA adapters (" + describe(ckRank, ckAlpha, ckGroups) +
                      ") that differ from this session's (" + describe(lora_.rank(), lora_.alpha(), groups) +
                      "); call applyLora with the checkpoint's settings on a fresh session");
  }
  // Everything is read before anything changes: a damaged checkpoint leaves the session as it was.
  const int64_t classes = readValue("num_classes").toInt();
  auto readArchive = [&](const char* key) {
    torch::serialize::InputArchive sub;
    if (!archive.try_read(key, sub))
      throw CorruptFile("checkpoint " + path + " has no '" + key + "' entry (not a thtl-native checkpoint?)");
    return sub;
  };
  torch::serialize::InputArchive weights = readArchive("model");
  io::NamedTensors tensors;
  for (const auto& [name, tensor] : io::stateDict(*model_)) {
    torch::Tensor t;
    if (!weights.try_read(name, t)) throw CorruptFile("checkpoint " + path + " lacks model key '" + name + "'");
    tensors.emplace_back(name, t);
  }
  std::vector<std::string> groups;
  std::stringstream ss(readValue("trainable_groups").toStringRef());
  for (std::string g; std::getline(ss, g, ',');)
    if (!g.empty()) groups.push_back(g);
  const double lr = readValue("lr").toDouble();
  const int64_t stepSize = readValue("step_size").toInt();
  const double gamma = readValue("gamma").toDouble();
  const int64_t schedulerEpoch = readValue("scheduler_epoch").toInt();
  torch::serialize::InputArchive optim = readArchive("optimizer");
  torch::Tensor rng;
  if (!archive.try_read("rng_cpu", rng)) throw CorruptFile("checkpoint " + path + " has no 'rng_cpu' entry");
  // A checkpoint written on the CPU has no CUDA stream: a GPU session then keeps its own.
  torch::Tensor rngCuda;
  const bool restoreCudaRng = device_.is_cuda() && archive.try_read("rng_cuda", rngCuda);
  const std::string meta = readValue("meta").toStringRef();

  if (classes != numClasses()) replaceHead(classes);
  io::loadStateDict(*model_, tensors, {}, path);
  setTrainableGroups(groups);
  optim_.lr = lr;
  optim_.stepSize = stepSize;
  optim_.gamma = gamma;
  schedulerEpoch_ = schedulerEpoch;
  rebuildOptimizer();
  optimizer_->load(optim);
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(rng);
  if (restoreCudaRng) {
    at::Generator g = cudaGenerator();
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_state(rngCuda);
  }
  // fp16's loss scale goes on where it was (a checkpoint without one, or a session in
  // another precision, keeps the session's own)
  torch::Tensor scale, growth;
  if (ampScale_.defined() && archive.try_read("amp_scale", scale) && archive.try_read("amp_growth", growth)) {
    ampScale_.copy_(scale);
    ampGrowth_.copy_(growth);
  }
  return meta;
}

void Session::saveWeights(const std::string& path, bool mergeAdapters) {
  // With LoRA adapters: the merged weights (base + delta) under the plain model's keys, so
  // the file loads into a model without adapters; the session itself is not modified.
  io::NamedTensors state = io::stateDict(*model_);
  if (hasLora() && mergeAdapters) state = lora_.mergedState(state);
  io::writeSafetensors(path, state);
}

nn::LoraReport Session::applyLora(const std::vector<std::string>& groups, int64_t rank, double alpha) {
  checkGroupNames(groups);
  const auto& all = entry_->info.groups;
  if (rank < 1) throw UserError("LoRA rank must be at least 1, got " + std::to_string(rank));
  if (!(alpha > 0) || !std::isfinite(alpha)) {
    std::ostringstream os;
    os << "LoRA alpha must be a positive number, got " << alpha;
    throw UserError(os.str());
  }
  if (hasLora())
    throw UserError("LoRA adapters are already applied (groups " + joinNames(loraGroups_, ",") + "); call mergeLora() first");
  const models::Group& head = all.front();
  std::vector<std::string> prefixes, adaptedGroups;
  for (const auto& g : all) {  // info().groups order, duplicates collapse
    if (std::find(groups.begin(), groups.end(), g.name) == groups.end()) continue;
    prefixes.insert(prefixes.end(), g.prefixes.begin(), g.prefixes.end());
    if (&g != &head) adaptedGroups.push_back(g.name);
  }
  if (adaptedGroups.empty())
    throw UserError("applyLora: name at least one group other than the head '" + head.name +
                    "' (the head trains fully and is never adapted; groups: " + joinNames(groupNames()) + ")");
  // The head group (if named) and any head prefix are reported as skipped.
  std::vector<std::string> exclude = head.prefixes;
  exclude.insert(exclude.end(), entry_->info.headPrefixes.begin(), entry_->info.headPrefixes.end());
  nn::LoraSet fresh;
  nn::LoraReport report = fresh.attach(*model_, prefixes, rank, alpha, exclude, "head (trains fully)");
  if (report.adapted.empty()) {
    std::string why;
    for (const auto& sk : report.skipped) why += "; " + sk.name + ": " + sk.reason;
    throw UserError("applyLora: no Conv2d or Linear module of the named groups can be adapted" +
                    (why.empty() ? std::string() : " (" + why.substr(2) + ")"));
  }
  lora_ = std::move(fresh);
  loraGroups_ = adaptedGroups;
  trainable_ = {head.name};  // base frozen except the head; adapters train (applyTrainable)
  applyTrainable();
  rebuildOptimizerKeepingState();
  return report;
}

void Session::mergeLora() {
  if (!hasLora()) return;
  lora_.merge();
  loraGroups_.clear();
  applyTrainable();
  rebuildOptimizerKeepingState();
}

void Session::rebuildOptimizerKeepingState() {
  auto old = std::move(optimizer_);
  rebuildOptimizer();
  if (!old) return;
  auto& from = old->state();
  auto& to = optimizer_->state();
  for (const auto& p : model_->parameters()) {
    auto it = from.find(compat::optimizerStateKey(*old, p));
    if (it != from.end()) to[it->first] = std::move(it->second);
  }
}

cam::CamResult Session::layerCam(const torch::Tensor& input, const std::vector<std::string>& layers,
                                 const std::vector<int64_t>& classes, const std::string& fusion) {
  model_->eval();
  {
    // Adapted weights without a graph: LayerCAM needs gradients of activations only
    // (Model::tap makes an activation without a graph a leaf that requires grad).
    torch::NoGradGuard noGrad;
    refreshAdapters();
  }
  return cam::layerCam(*model_, device_, input, layers.empty() ? entry_->info.camLayers : layers, classes,
                       fusion, entry_->info.name);
}

cam::CamResult Session::layerCamImages(const data::ImageCache& images, const std::vector<int64_t>& indices,
                                       const std::vector<std::string>& layers,
                                       const std::vector<int64_t>& classes, const std::string& fusion) {
  if (indices.empty()) throw UserError("layerCamImages needs at least one image index");
  const auto count = static_cast<int64_t>(images.files.size());
  for (int64_t i : indices) {
    if (i < 0 || i >= count)
      throw UserError("image index " + std::to_string(i) + " is outside 0.." + std::to_string(count - 1));
    for (const auto& f : images.failures)
      if (static_cast<int64_t>(f.index) == i)
        throw UserError("image " + std::to_string(i) + " (" + f.file + ") could not be decoded: " + f.reason);
  }
  std::mt19937_64 unused(0);
  torch::Tensor x = batchOnDevice(images, indices, /*augment=*/false, unused);  // as evaluate() does
  return layerCam(x, layers, classes, fusion);
}

}  // namespace thtl::train
