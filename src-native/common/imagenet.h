// The input normalisation of torchvision's ImageNet weights (every model in the registry
// uses it; ModelInfo::mean/std default to it, and ImageSet batches apply it).
#pragma once
#include <array>

namespace thtl {
inline constexpr std::array<double, 3> kImagenetMean = {0.485, 0.456, 0.406};
inline constexpr std::array<double, 3> kImagenetStd = {0.229, 0.224, 0.225};
}  // namespace thtl
