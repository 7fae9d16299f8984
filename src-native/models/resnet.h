// ResNet-18/50 as torchvision defines them (v1.5: stride in the 3x3 conv of Bottleneck).
#pragma once
#include "models/model.h"

namespace thtl::models {

ModelPtr buildResNet18(int64_t numClasses);
ModelPtr buildResNet50(int64_t numClasses);
ModelInfo resnet18Info();
ModelInfo resnet50Info();

}  // namespace thtl::models
