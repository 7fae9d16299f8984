// The few LibTorch C++ APIs that differ between the versions this addon supports
// (Debian's 1.13 and every 2.x from pip). Every version test lives in this file; the
// rest of the tree calls these helpers and stays free of #if.
//
//   1.13: c10::variant (c10's own), optimizer state keyed by the parameter's
//         TensorImpl address printed as a string, no scaled_dot_product_attention.
//   2.0:  std::variant, state keyed by the TensorImpl address (void*), SDPA without an
//         explicit scale (it always scales by head_dim^-0.5).
//   2.1+: SDPA takes the scale.
#pragma once

#include <torch/torch.h>

#include <cmath>
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

}  // namespace thtl::compat
