// LayerCAM (Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for
// Localization", IEEE TIP 2021) over the activations the models tap (Model::tap).
//
// For class c and a layer with activations A [K, h, w] and the gradient g of the class
// score (the logit of c, before softmax, as the reference implementations and torchcam
// use it): M = ReLU(sum_k ReLU(g_k) * A_k), upsampled bilinearly to the input size
// (align_corners = false), then min-max normalised per image to [0, 1] (all zeros where
// the map is constant).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace thtl::cam {

struct CamResult {
  std::vector<std::string> layers;  // in the order asked for
  torch::Tensor maps;               // float [N, L, H, W] in [0, 1], CPU
  torch::Tensor fused;              // float [N, H, W] in [0, 1], CPU; undefined for "none"
  std::vector<int64_t> classes;     // the class explained per image (predicted where -1 was asked)
  torch::Tensor probs;              // float [N, C], softmax of the logits, CPU
};

// One forward pass and one autograd::grad call for the whole batch (the score is the sum
// over images of logit[i, classes[i]]). `input` is a normalised float batch [N, 3, H, W]
// (moved to `device`). `layers`: group names from model.camLayerNames() (an unknown name
// throws UserError listing the valid ones). `classes`: empty (every image's predicted
// class) or one entry per image, -1 meaning predicted; anything outside -1..C-1 throws
// UserError. `fusion`: "none", "max" (elementwise maximum of the normalised maps) or
// "mean". Puts the model in eval mode; parameters' .grad are left untouched.
CamResult layerCam(models::Model& model, const torch::Device& device, const torch::Tensor& input,
                   const std::vector<std::string>& layers, const std::vector<int64_t>& classes,
                   const std::string& fusion, const std::string& modelName = "the model");

// A tapped tensor as [N, C, H, W] (ViT tokens: class token dropped, square grid).
torch::Tensor toNCHW(const torch::Tensor& t, models::FeatureLayout layout);

}  // namespace thtl::cam
