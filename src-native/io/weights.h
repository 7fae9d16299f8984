// Weight files: torchvision's .pth (zip-format pickle of an OrderedDict of tensors)
// and .safetensors; and loading a state dict into a module with a clear report.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace thtl::io {

// Ordered (name, tensor) pairs, in file order. Tensors are CPU, contiguous.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Reads a .pth (zip format; an OrderedDict or plain dict of tensors, optionally
// nested under "state_dict"/"model") or a .safetensors file, chosen by content, not
// by extension. Throws UserError naming the file and what is wrong with it.
NamedTensors readWeightFile(const std::string& path);

// Writes a .safetensors file (atomically: temp file + rename).
void writeSafetensors(const std::string& path, const NamedTensors& tensors);

struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> skipped;  // keys under skipPrefixes whose shapes differ (a replaced head)
};

// Copies `tensors` into the module's parameters and buffers by state_dict name.
// Keys under `skipPrefixes` whose shapes do not match are skipped on purpose (the
// head was replaced for a new class count). Any other missing key, unexpected key
// or shape mismatch throws UserError listing every one of them, with `source`
// (usually the file name) in the message; the module is left unchanged then.
LoadReport loadStateDict(torch::nn::Module& module, const NamedTensors& tensors,
                         const std::vector<std::string>& skipPrefixes,
                         const std::string& source);

// The module's state_dict (parameters then buffers, torchvision order), on CPU.
NamedTensors stateDict(const torch::nn::Module& module);

// The state_dict's names alone, in the same order, touching no tensor: safe on any
// thread (stateDict copies, and a copy big enough to run a parallel region on the JS
// thread would start a second OpenMP team there; see train/session_napi.cc).
std::vector<std::string> stateNames(const torch::nn::Module& module);

}  // namespace thtl::io
