// What the Session's files share: small helpers and the precision hint around a pass.
// Included by src-native/train/session*.cc only.
#pragma once
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "train/session.h"

namespace thtl::train::detail {

inline double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Cache indices that decoded successfully.
inline std::vector<int64_t> usableIndices(const data::ImageCache& images) {
  std::set<size_t> bad;
  for (const auto& f : images.failures) bad.insert(f.index);
  std::vector<int64_t> out;
  for (size_t i = 0; i < images.files.size(); ++i)
    if (!bad.count(i)) out.push_back(static_cast<int64_t>(i));
  return out;
}

inline torch::Tensor labelTensor(const std::vector<int32_t>& labels, const std::vector<int64_t>& idx) {
  std::vector<int64_t> y;
  y.reserve(idx.size());
  for (int64_t i : idx) y.push_back(labels[static_cast<size_t>(i)]);
  return torch::tensor(y, torch::kLong);
}

}  // namespace thtl::train::detail

namespace thtl::train {

// A pass in bf16/fp16 that LibTorch cannot run names the precision and the way out.
template <typename Fn>
auto Session::withPrecisionHint(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    // 1.13 on the CPU: "... not implemented for 'BFloat16'" (mobilenet_v2's ReLU6 backward),
    // "expected scalar type BFloat16 but found Float" (swin_v2_t's and maxvit_t's layer_norm)
    const bool missing = msg.find("not implemented for '") != std::string::npos ||
                         msg.find("expected scalar type BFloat16") != std::string::npos ||
                         msg.find("expected scalar type Half") != std::string::npos;
    if (precision_ == Precision::Fp32 || !missing) throw;
    throw UserError(entry_->info.name + " cannot train or run in " + precision() + " on this LibTorch (" +
                    TORCH_VERSION + ", " + device_.str() + "): " + msg + "; use --precision fp32" +
                    (TORCH_VERSION_MAJOR < 2 ? " or a build against LibTorch 2.x" : ""));
  }
}

}  // namespace thtl::train
