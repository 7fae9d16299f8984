// Each model family contributes its registry rows; registry.cc concatenates them.
#pragma once
#include <vector>

#include "models/model.h"

namespace thtl::models {
std::vector<RegistryEntry> resnetEntries();        // resnet.cc: resnet18, resnet50
std::vector<RegistryEntry> mobilenetEntries();     // mobilenet.cc: mobilenet_v2
std::vector<RegistryEntry> efficientnetEntries();  // efficientnet.cc: efficientnet_v2_s
std::vector<RegistryEntry> inceptionEntries();     // inception.cc: inception_v3
std::vector<RegistryEntry> densenetEntries();      // densenet.cc: densenet121, densenet169
std::vector<RegistryEntry> vggEntries();           // vgg.cc: vgg19
std::vector<RegistryEntry> vitEntries();           // vit.cc: vit_b_16
std::vector<RegistryEntry> swinEntries();          // swin.cc: swin_v2_t
std::vector<RegistryEntry> maxvitEntries();        // maxvit.cc: maxvit_t
}  // namespace thtl::models
