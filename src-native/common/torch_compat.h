// The few LibTorch C++ APIs that differ between the versions this addon supports
// (Debian's 1.13 and every 2.x from pip). Every version test lives in this file; the
// rest of the tree calls these helpers and stays free of #if.
//
//   1.13: c10::variant (c10's own), optimizer state keyed by the parameter's
//         TensorImpl address printed as a string, no scaled_dot_product_attention.
//   2.0:  std::variant, state keyed by the TensorImpl address (void*), SDPA without an
//         explicit scale (it always scales by head_dim^-0.5).
//   2.1+: SDPA takes the scale.
//   2.4+: autocast is switched per device type (set_autocast_enabled(DeviceType, bool));
//         1.13's set_enabled (CUDA) / set_cpu_enabled remain only as deprecated wrappers.
//   c10::Allocator: 1.13's allocate() is const, 2.x's is not, and 2.x adds copy_data()
//         (pure virtual); AllocatorBase declares both forms, so no version test is needed.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <c10/core/Allocator.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>

#define THTL_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace thtl::compat {

/// True when the enum-like variant `v` (a torch::nn option such as padding_mode) holds `Alternative`.
template <class Alternative, class Variant>
bool holds(const Variant& v) {
#if THTL_TORCH_AT_LEAST(2, 0)
  return std::holds_alternative<Alternative>(v);
#else
  return c10::holds_alternative<Alternative>(v);
#endif
}

/// The key under which `optimizer.state()` keeps the per-parameter state of `p`.
/// Deduced from the map's own key type, so no version number is needed.
template <class Optimizer>
auto optimizerStateKey(Optimizer& optimizer, const torch::Tensor& p) {
  using Key = typename std::decay_t<decltype(optimizer.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;  // what 1.13's c10::guts::to_string(p.unsafeGetTensorImpl()) wrote
    s << static_cast<const void*>(p.unsafeGetTensorImpl());
    return Key(s.str());
  } else {
    return Key(p.unsafeGetTensorImpl());
  }
}

/// softmax((q · kᵀ) · scale + bias) · v over the last two dimensions, with dropout `p` on
/// the attention weights; `bias` may be undefined. LibTorch 2.x runs its fused kernel;
/// 1.13 computes the same product explicitly (scaling k, as torchvision's MaxViT does).
inline torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& bias, double p,
                                               double scale) {
#if THTL_TORCH_AT_LEAST(2, 1)
  if (bias.defined()) return at::scaled_dot_product_attention(q, k, v, bias, p, false, scale);
  return at::scaled_dot_product_attention(q, k, v, {}, p, false, scale);
#elif THTL_TORCH_AT_LEAST(2, 0)
  // 2.0's SDPA always scales by head_dim^-0.5: fold the rest of `scale` into q.
  const torch::Tensor qs = q * (scale * std::sqrt(static_cast<double>(q.size(-1))));
  if (bias.defined()) return at::scaled_dot_product_attention(qs, k, v, bias, p, false);
  return at::scaled_dot_product_attention(qs, k, v, {}, p, false);
#else
  torch::Tensor attn = torch::matmul(q, (k * scale).transpose(-2, -1));
  if (bias.defined()) attn = attn + bias;
  attn = torch::softmax(attn, -1);
  if (p > 0.0) attn = torch::dropout(attn, p, /*train=*/true);
  return torch::matmul(attn, v);
#endif
}

/// Autocast (mixed precision) on `device`'s type with `dtype` for this thread while the
/// guard lives, as `with torch.autocast(device_type, dtype)`: the previous state comes
/// back and autocast's cast cache is cleared when the outermost guard ends.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType type, at::ScalarType dtype) : type_(type) {
    prevEnabled_ = enabled(type);
    prevDtype_ = getDtype(type);
    setEnabled(type, true);
    setDtype(type, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    setEnabled(type_, prevEnabled_);
    setDtype(type_, prevDtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
#if THTL_TORCH_AT_LEAST(2, 4)
  static bool enabled(c10::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
  static void setEnabled(c10::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
  static at::ScalarType getDtype(c10::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
  static void setDtype(c10::DeviceType t, at::ScalarType d) { at::autocast::set_autocast_dtype(t, d); }
#else
  static bool enabled(c10::DeviceType t) {
    return t == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  }
  static void setEnabled(c10::DeviceType t, bool on) {
    if (t == c10::DeviceType::CUDA) at::autocast::set_enabled(on);
    else at::autocast::set_cpu_enabled(on);
  }
  static at::ScalarType getDtype(c10::DeviceType t) {
    return t == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  }
  static void setDtype(c10::DeviceType t, at::ScalarType d) {
    if (t == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(d);
    else at::autocast::set_autocast_cpu_dtype(d);
  }
#endif
  c10::DeviceType type_;
  bool prevEnabled_;
  at::ScalarType prevDtype_;
};

/// Base for an allocator registered with c10::SetAllocator: implement allocateBytes().
/// allocate() is declared in its const (1.13) and non-const (2.x) forms without
/// `override`: whichever the base declares virtual is overridden, the other is a plain
/// overload. copy_data() is pure virtual in 2.x and a new member in 1.13.
class AllocatorBase : public c10::Allocator {
 public:
  virtual c10::DataPtr allocateBytes(std::size_t n) const = 0;
  c10::DataPtr allocate(std::size_t n) const { return allocateBytes(n); }
  c10::DataPtr allocate(std::size_t n) { return allocateBytes(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }
};

}  // namespace thtl::compat
