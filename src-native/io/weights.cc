// Weight files: format detection, and loading a state dict into a module.
#include "io/weights.h"

#include <unordered_map>

#include "common/errors.h"
#include "io/io_internal.h"

namespace thtl::io {

namespace detail {

const char* dtypeName(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return "float32";
    case c10::kDouble: return "float64";
    case c10::kHalf: return "float16";
    case c10::kBFloat16: return "bfloat16";
    case c10::kLong: return "int64";
    case c10::kInt: return "int32";
    case c10::kShort: return "int16";
    case c10::kChar: return "int8";
    case c10::kByte: return "uint8";
    case c10::kBool: return "bool";
    case c10::kComplexFloat: return "complex64";
    case c10::kComplexDouble: return "complex128";
    default: return "unknown";
  }
}

}  // namespace detail

namespace {

using detail::BinaryFile;

std::string shapeString(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

struct Slot {
  std::string name;
  torch::Tensor tensor;
};

// torchvision's state_dict order: a module's own parameters, its own buffers, then
// each child's, recursively, in registration order.
void collectState(const torch::nn::Module& module, const std::string& prefix, std::vector<Slot>& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    if (p.value().defined()) out.push_back({prefix + p.key(), p.value()});
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.push_back({prefix + b.key(), b.value()});
  }
  for (const auto& c : module.named_children()) {
    collectState(*c.value(), prefix + c.key() + ".", out);
  }
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void appendList(std::string& msg, const std::string& title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  constexpr size_t kShow = 20;
  msg += "\n  " + std::to_string(items.size()) + " " + title + ":";
  for (size_t i = 0; i < items.size() && i < kShow; ++i) msg += "\n    " + items[i];
  if (items.size() > kShow) msg += "\n    ... and " + std::to_string(items.size() - kShow) + " more";
}

}  // namespace

NamedTensors readWeightFile(const std::string& path) {
  BinaryFile file(path);
  const uint64_t size = file.size();
  if (size == 0) file.fail("the file is empty (0 bytes); download or save it again");
  unsigned char head[8] = {0};
  const uint64_t headLen = std::min<uint64_t>(size, sizeof head);
  file.readAt(0, head, headLen, "the file header");

  if (headLen >= 4 && head[0] == 'P' && head[1] == 'K' &&
      ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6))) {
    return detail::readPth(file);
  }
  if (detail::looksLikeSafetensors(file)) return detail::readSafetensors(file);

  const std::string resave =
      " Load it in a current PyTorch and re-save the state_dict: "
      "torch.save(torch.load(path, map_location='cpu'), 'weights.pth')";
  if (headLen >= 4 && head[0] == 0x80 && head[1] <= 5 && head[2] == 0x8a && head[3] == 0x0a) {
    file.fail("is a PyTorch file in the legacy (pre-1.6, non-zip) serialization format, which is not supported." +
              resave);
  }
  if (headLen >= 2 && head[0] == 0x80 && head[1] <= 5) {
    file.fail("is a plain Python pickle, not a zip-format PyTorch weight file." + resave);
  }
  if (size > 262) {
    char magic[5];
    file.readAt(257, magic, 5, "the file header");
    if (std::string(magic, 5) == "ustar") {
      file.fail("is a tar archive (the PyTorch < 0.4 serialization format), which is not supported." + resave);
    }
  }
  if (headLen >= 4 && head[0] == 0x89 && head[1] == 'H' && head[2] == 'D' && head[3] == 'F') {
    file.fail("is an HDF5 file (e.g. Keras weights), not a PyTorch .pth or .safetensors file");
  }
  file.fail("is not a weight file this program can read: expected a PyTorch .pth (zip format, written by "
            "torch.save) or a .safetensors file");
}

void writeSafetensors(const std::string& path, const NamedTensors& tensors) {
  detail::writeSafetensorsFile(path, tensors);
}

LoadReport loadStateDict(torch::nn::Module& module, const NamedTensors& tensors,
                         const std::vector<std::string>& skipPrefixes, const std::string& source) {
  std::vector<Slot> slots;
  collectState(module, "", slots);

  std::unordered_map<std::string, size_t> fromFile;
  for (size_t i = 0; i < tensors.size(); ++i) fromFile[tensors[i].first] = i;
  std::unordered_map<std::string, size_t> inModel;
  for (size_t i = 0; i < slots.size(); ++i) inModel.emplace(slots[i].name, i);

  auto underSkip = [&](const std::string& name) {
    for (const auto& p : skipPrefixes) {
      if (!p.empty() && name.compare(0, p.size(), p) == 0) return true;
    }
    return false;
  };

  LoadReport report;
  std::vector<std::string> missing, unexpected, mismatched;
  std::vector<std::pair<size_t, size_t>> copies;  // (slot, file index)
  std::vector<size_t> zeroCounters;               // num_batches_tracked absent from older files
  for (size_t s = 0; s < slots.size(); ++s) {
    const Slot& slot = slots[s];
    auto it = fromFile.find(slot.name);
    if (it == fromFile.end()) {
      if (endsWith(slot.name, "num_batches_tracked")) zeroCounters.push_back(s);
      else if (underSkip(slot.name)) report.skipped.push_back(slot.name);
      else missing.push_back(slot.name);
      continue;
    }
    const torch::Tensor& src = tensors[it->second].second;
    if (!src.defined()) {
      mismatched.push_back(slot.name + " (undefined in the file)");
    } else if (src.sizes() == slot.tensor.sizes()) {
      copies.emplace_back(s, it->second);
    } else if (underSkip(slot.name)) {
      report.skipped.push_back(slot.name);
    } else {
      mismatched.push_back(slot.name + ": file " + shapeString(src.sizes()) + ", model " +
                           shapeString(slot.tensor.sizes()));
    }
  }
  bool allModulePrefixed = true;
  for (const auto& [name, tensor] : tensors) {
    if (inModel.count(name)) continue;
    if (underSkip(name)) {
      report.skipped.push_back(name);
    } else {
      unexpected.push_back(name);
      if (name.rfind("module.", 0) != 0) allModulePrefixed = false;
    }
  }

  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string msg = source + ": the weights do not fit the model (nothing was loaded):";
    appendList(msg, "missing key(s) (in the model, not in the file)", missing);
    appendList(msg, "unexpected key(s) (in the file, not in the model)", unexpected);
    appendList(msg, "shape mismatch(es)", mismatched);
    if (!unexpected.empty() && allModulePrefixed) {
      msg += "\n  (the file's keys start with 'module.': it was saved from nn.DataParallel; strip that prefix)";
    }
    throw UserError(msg);
  }

  torch::NoGradGuard noGrad;
  for (const auto& [s, f] : copies) {
    slots[s].tensor.copy_(tensors[f].second);
    report.loaded.push_back(slots[s].name);
  }
  for (size_t s : zeroCounters) slots[s].tensor.zero_();
  return report;
}

std::vector<std::string> stateNames(const torch::nn::Module& module) {
  std::vector<Slot> slots;
  collectState(module, "", slots);
  std::vector<std::string> out;
  out.reserve(slots.size());
  for (auto& s : slots) out.push_back(std::move(s.name));
  return out;
}

NamedTensors stateDict(const torch::nn::Module& module) {
  std::vector<Slot> slots;
  collectState(module, "", slots);
  NamedTensors out;
  out.reserve(slots.size());
  for (auto& s : slots) out.emplace_back(s.name, s.tensor.detach().to(torch::kCPU).contiguous());
  return out;
}

}  // namespace thtl::io
