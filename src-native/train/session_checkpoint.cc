// Weights, checkpoints and LoRA: what a Session saves, loads and adapts.
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
#include "train/session_internal.h"

namespace thtl::train {

using namespace detail;

std::vector<Session::StateKey> Session::stateKeys() const {
  // Names only: this runs on the JS thread after each operation (session_napi.cc), where
  // stateDict()'s copies (channels_last or GPU tensors made contiguous on the CPU) would
  // run LibTorch parallel regions and start a second OpenMP team; with more OpenMP
  // threads than cores libgomp stops spin-waiting and every later parallel region of
  // training pays for waking its workers.
  std::vector<StateKey> out;
  for (auto& name : io::stateNames(*model_)) out.push_back({std::move(name), {}, false, false});
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

namespace {

std::string describeLora(int64_t r, double a, const std::string& g) {
  std::ostringstream os;
  os << "rank " << r << ", alpha " << a << ", groups " << g;
  return os.str();
}

// A checkpoint's LoRA adapters must be the session's (rank, alpha, groups), or both have
// none. Checkpoints older than LoRA support have no lora_* entries: no adapters.
void checkLoraMatches(torch::serialize::InputArchive& archive, const std::string& path, bool has, int64_t rank,
                      double alpha, const std::string& groups) {
  c10::IValue v;
  const int64_t ckRank = archive.try_read("lora_rank", v) ? v.toInt() : 0;
  const double ckAlpha = ckRank > 0 && archive.try_read("lora_alpha", v) ? v.toDouble() : 0.0;
  const std::string ckGroups = ckRank > 0 && archive.try_read("lora_groups", v) ? v.toStringRef() : "";
  if (ckRank > 0 && !has)
    throw UserError("checkpoint " + path + " holds LoRA adapters (" + describeLora(ckRank, ckAlpha, ckGroups) +
                    ") but this session has none; call applyLora with these settings before loadCheckpoint");
  if (ckRank == 0 && has)
    throw UserError("checkpoint " + path + " has no LoRA adapters but this session has (" +
                    describeLora(rank, alpha, groups) + "); load it into a session without applyLora");
  if (ckRank > 0 && (ckRank != rank || ckAlpha != alpha || ckGroups != groups))
    throw UserError("checkpoint " + path + " holds LoRA adapters (" + describeLora(ckRank, ckAlpha, ckGroups) +
                    ") that differ from this session's (" + describeLora(rank, alpha, groups) +
                    "); call applyLora with the checkpoint's settings on a fresh session");
}

}  // namespace

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
  checkLoraMatches(archive, path, hasLora(), hasLora() ? lora_.rank() : 0, hasLora() ? lora_.alpha() : 0.0,
                   joinNames(loraGroups_, ","));
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

}  // namespace thtl::train
