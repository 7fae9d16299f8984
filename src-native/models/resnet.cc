#include "models/families.h"

#include "models/layers.h"

namespace thtl::models {
namespace {

// BasicBlock (ResNet-18/34) and Bottleneck (ResNet-50+) share one module type: the
// registered names (conv1, bn1, ..., downsample.0/1) equal torchvision's keys.
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride, bool bottleneck) {
    const int64_t expansion = bottleneck ? 4 : 1;
    if (bottleneck) {
      conv1 = register_module("conv1", conv(inPlanes, planes, 1));
      bn1 = register_module("bn1", batchNorm(planes));
      conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
      bn2 = register_module("bn2", batchNorm(planes));
      conv3 = register_module("conv3", conv(planes, planes * expansion, 1));
      bn3 = register_module("bn3", batchNorm(planes * expansion));
    } else {
      conv1 = register_module("conv1", conv(inPlanes, planes, 3, stride, 1));
      bn1 = register_module("bn1", batchNorm(planes));
      conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
      bn2 = register_module("bn2", batchNorm(planes));
    }
    if (stride != 1 || inPlanes != planes * expansion) {
      // children "0" and "1", as torchvision names them; run as conv -> bnAct below
      dsConv = conv(inPlanes, planes * expansion, 1, stride);
      dsBn = batchNorm(planes * expansion);
      downsample = register_module("downsample", torch::nn::Sequential(dsConv, dsBn));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    // bn -> ReLU, bn -> += identity -> ReLU and the downsample's bn alone as single steps
    // (nn/bn_act.h: fused kernels in training on the CPU; torchvision's in-place ReLU and
    // add elsewhere).
    torch::Tensor identity = downsample ? bnAct(*dsBn, dsConv(x), Act::None) : x;
    torch::Tensor out = bnAct(*bn1, conv1(x), Act::ReLU);
    if (!conv3) return bnAct(*bn2, conv2(out), Act::ReLU, identity);
    out = bnAct(*bn2, conv2(out), Act::ReLU);
    return bnAct(*bn3, conv3(out), Act::ReLU, identity);
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
  torch::nn::Conv2d dsConv{nullptr};  // downsample's children, for forward
  torch::nn::BatchNorm2d dsBn{nullptr};
};
TORCH_MODULE(ResBlock);

class ResNet : public Model {
 public:
  ResNet(const std::vector<int64_t>& blocks, bool bottleneck, int64_t numClasses)
      : expansion_(bottleneck ? 4 : 1) {
    conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
    bn1 = register_module("bn1", batchNorm(64));
    int64_t inPlanes = 64;
    const int64_t planes[4] = {64, 128, 256, 512};
    for (int i = 0; i < 4; ++i) {
      torch::nn::Sequential layer;
      for (int64_t b = 0; b < blocks[i]; ++b) {
        const int64_t stride = (i > 0 && b == 0) ? 2 : 1;
        layer->push_back(ResBlock(inPlanes, planes[i], stride, bottleneck));
        inPlanes = planes[i] * expansion_;
      }
      layers_[i] = register_module("layer" + std::to_string(i + 1), layer);
    }
    fc = register_module("fc", torch::nn::Linear(512 * expansion_, numClasses));
    initConvAndNorm(*this);
    declareTaps({"stem", "layer1", "layer2", "layer3", "layer4"});
  }

  torch::Tensor forward(torch::Tensor x) override {
    static const char* const kLayerNames[4] = {"layer1", "layer2", "layer3", "layer4"};
    x = torch::max_pool2d(tap("stem", bnAct(*bn1, conv1(x), Act::ReLU)), 3, 2, 1);
    for (int i = 0; i < 4; ++i) x = tap(kLayerNames[i], layers_[i]->forward(x));
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    return fc(x);
  }

  void replaceHead(int64_t numClasses) override {
    fc = replace_module("fc", torch::nn::Linear(512 * expansion_, numClasses));
  }

  int64_t numClasses() const override { return fc->options.out_features(); }

 private:
  int64_t expansion_;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layers_[4] = {nullptr, nullptr, nullptr, nullptr};
  torch::nn::Linear fc{nullptr};
};

ModelInfo resnetInfo(const std::string& name, int64_t params, const char* weights) {
  ModelInfo info;
  info.name = name;
  info.imagenetWeights = weights;
  info.inputSize = 224;
  info.defaultLr = 1e-3;
  info.headPrefixes = {"fc."};
  info.groups = {{"fc", {"fc."}},         {"layer4", {"layer4."}}, {"layer3", {"layer3."}},
                 {"layer2", {"layer2."}}, {"layer1", {"layer1."}}, {"stem", {"conv1.", "bn1."}}};
  info.camLayers = {"layer1", "layer2", "layer3", "layer4"};
  info.imagenetParams = params;
  return info;
}

}  // namespace

std::vector<RegistryEntry> resnetEntries() {
  return {
      {resnetInfo("resnet18", 11689512, "resnet18-f37072fd.pth"),
       [](int64_t n) { return std::make_shared<ResNet>(std::vector<int64_t>{2, 2, 2, 2}, false, n); }},
      {resnetInfo("resnet50", 25557032, "resnet50-0676ba61.pth"),
       [](int64_t n) { return std::make_shared<ResNet>(std::vector<int64_t>{3, 4, 6, 3}, true, n); }},
  };
}

}  // namespace thtl::models
