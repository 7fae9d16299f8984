// Inception v3 (torchvision.models.inception_v3, "Rethinking the Inception Architecture").
// Registered names equal torchvision's state_dict keys ("Mixed_6b.branch7x7_2.conv.weight",
// "AuxLogits.fc.bias"), in torchvision's order (AuxLogits between Mixed_6e and Mixed_7a).
//
// As torchvision with the published ImageNet weights: transform_input is always on (the
// input, normalised with the ImageNet mean/std, is re-normalised to the [-1, 1] scaling the
// Google weights expect) and the auxiliary classifier is always present. BasicConv2d's
// BatchNorm uses eps 0.001. forward() gives the main logits (evaluation); forwardTrain()
// in training mode also gives the auxiliary logits with loss weight 0.4.
#include <cmath>
#include <sstream>
#include <string>

#include "common/errors.h"
#include "models/families.h"
#include "models/layers.h"

namespace thtl::models {
namespace {

constexpr double kInceptionDropout = 0.5;
constexpr double kAuxWeight = 0.4;
constexpr int64_t kMinEvalSize = 75;    // smallest input the main path takes (torchvision's min_size)
constexpr int64_t kMinTrainSize = 299;  // the auxiliary branch needs a 17x17 Mixed_6e map

// torchvision's Inception3 initialisation of a Linear: weight trunc_normal(0, std, -2, 2)
// (std 0.1, or the module's `stddev`: 0.001 for AuxLogits.fc); the bias keeps PyTorch's
// default uniform init.
torch::nn::Linear makeLinear(int64_t in, int64_t out, double std) {
  torch::nn::Linear fc(in, out);
  truncNormal(fc->weight, 0.0, std, -2.0, 2.0);
  return fc;
}

// torchvision.models.inception.BasicConv2d: conv (no bias) + BatchNorm(eps=0.001) + ReLU.
struct BasicConv2dImpl : torch::nn::Module {
  BasicConv2dImpl(int64_t in, int64_t out, int64_t kh, int64_t kw, int64_t stride = 1, int64_t ph = 0,
                  int64_t pw = 0) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, {kh, kw})
                                                         .stride(stride)
                                                         .padding({ph, pw})
                                                         .bias(false)));
    bn = register_module("bn", batchNorm(out, 0.001));
  }
  torch::Tensor forward(const torch::Tensor& x) { return bnAct(*bn, conv(x), Act::ReLU); }

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BasicConv2d);

// Square kernel k, stride s, padding p.
BasicConv2d sq(int64_t in, int64_t out, int64_t k, int64_t s = 1, int64_t p = 0) {
  return BasicConv2d(in, out, k, k, s, p, p);
}
// 1x7 / 7x1 (or 1x3 / 3x1) kernels with "same" padding.
BasicConv2d row(int64_t in, int64_t out, int64_t k) { return BasicConv2d(in, out, 1, k, 1, 0, k / 2); }
BasicConv2d col(int64_t in, int64_t out, int64_t k) { return BasicConv2d(in, out, k, 1, 1, k / 2, 0); }

torch::Tensor avgPool3(const torch::Tensor& x) { return torch::avg_pool2d(x, 3, 1, 1); }  // count_include_pad

// 35x35 block (Mixed_5b/c/d).
struct InceptionAImpl : torch::nn::Module {
  InceptionAImpl(int64_t in, int64_t poolFeatures) {
    b1x1 = register_module("branch1x1", sq(in, 64, 1));
    b5x5_1 = register_module("branch5x5_1", sq(in, 48, 1));
    b5x5_2 = register_module("branch5x5_2", sq(48, 64, 5, 1, 2));
    b3dbl_1 = register_module("branch3x3dbl_1", sq(in, 64, 1));
    b3dbl_2 = register_module("branch3x3dbl_2", sq(64, 96, 3, 1, 1));
    b3dbl_3 = register_module("branch3x3dbl_3", sq(96, 96, 3, 1, 1));
    bPool = register_module("branch_pool", sq(in, poolFeatures, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b1x1(x), b5x5_2(b5x5_1(x)), b3dbl_3(b3dbl_2(b3dbl_1(x))), bPool(avgPool3(x))}, 1);
  }
  BasicConv2d b1x1{nullptr}, b5x5_1{nullptr}, b5x5_2{nullptr}, b3dbl_1{nullptr}, b3dbl_2{nullptr},
      b3dbl_3{nullptr}, bPool{nullptr};
};
TORCH_MODULE(InceptionA);

// Grid reduction 35 -> 17 (Mixed_6a).
struct InceptionBImpl : torch::nn::Module {
  explicit InceptionBImpl(int64_t in) {
    b3x3 = register_module("branch3x3", sq(in, 384, 3, 2));
    b3dbl_1 = register_module("branch3x3dbl_1", sq(in, 64, 1));
    b3dbl_2 = register_module("branch3x3dbl_2", sq(64, 96, 3, 1, 1));
    b3dbl_3 = register_module("branch3x3dbl_3", sq(96, 96, 3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b3x3(x), b3dbl_3(b3dbl_2(b3dbl_1(x))), torch::max_pool2d(x, 3, 2)}, 1);
  }
  BasicConv2d b3x3{nullptr}, b3dbl_1{nullptr}, b3dbl_2{nullptr}, b3dbl_3{nullptr};
};
TORCH_MODULE(InceptionB);

// 17x17 block with factorised 7x7 convolutions (Mixed_6b..e).
struct InceptionCImpl : torch::nn::Module {
  InceptionCImpl(int64_t in, int64_t c7) {
    b1x1 = register_module("branch1x1", sq(in, 192, 1));
    b7_1 = register_module("branch7x7_1", sq(in, c7, 1));
    b7_2 = register_module("branch7x7_2", row(c7, c7, 7));
    b7_3 = register_module("branch7x7_3", col(c7, 192, 7));
    b7dbl_1 = register_module("branch7x7dbl_1", sq(in, c7, 1));
    b7dbl_2 = register_module("branch7x7dbl_2", col(c7, c7, 7));
    b7dbl_3 = register_module("branch7x7dbl_3", row(c7, c7, 7));
    b7dbl_4 = register_module("branch7x7dbl_4", col(c7, c7, 7));
    b7dbl_5 = register_module("branch7x7dbl_5", row(c7, 192, 7));
    bPool = register_module("branch_pool", sq(in, 192, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor b7 = b7_3(b7_2(b7_1(x)));
    torch::Tensor b7dbl = b7dbl_5(b7dbl_4(b7dbl_3(b7dbl_2(b7dbl_1(x)))));
    return torch::cat({b1x1(x), b7, b7dbl, bPool(avgPool3(x))}, 1);
  }
  BasicConv2d b1x1{nullptr}, b7_1{nullptr}, b7_2{nullptr}, b7_3{nullptr}, b7dbl_1{nullptr},
      b7dbl_2{nullptr}, b7dbl_3{nullptr}, b7dbl_4{nullptr}, b7dbl_5{nullptr}, bPool{nullptr};
};
TORCH_MODULE(InceptionC);

// Grid reduction 17 -> 8 (Mixed_7a).
struct InceptionDImpl : torch::nn::Module {
  explicit InceptionDImpl(int64_t in) {
    b3_1 = register_module("branch3x3_1", sq(in, 192, 1));
    b3_2 = register_module("branch3x3_2", sq(192, 320, 3, 2));
    b7_1 = register_module("branch7x7x3_1", sq(in, 192, 1));
    b7_2 = register_module("branch7x7x3_2", row(192, 192, 7));
    b7_3 = register_module("branch7x7x3_3", col(192, 192, 7));
    b7_4 = register_module("branch7x7x3_4", sq(192, 192, 3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b3_2(b3_1(x)), b7_4(b7_3(b7_2(b7_1(x)))), torch::max_pool2d(x, 3, 2)}, 1);
  }
  BasicConv2d b3_1{nullptr}, b3_2{nullptr}, b7_1{nullptr}, b7_2{nullptr}, b7_3{nullptr}, b7_4{nullptr};
};
TORCH_MODULE(InceptionD);

// 8x8 block with expanded filter banks (Mixed_7b/c).
struct InceptionEImpl : torch::nn::Module {
  explicit InceptionEImpl(int64_t in) {
    b1x1 = register_module("branch1x1", sq(in, 320, 1));
    b3_1 = register_module("branch3x3_1", sq(in, 384, 1));
    b3_2a = register_module("branch3x3_2a", row(384, 384, 3));
    b3_2b = register_module("branch3x3_2b", col(384, 384, 3));
    b3dbl_1 = register_module("branch3x3dbl_1", sq(in, 448, 1));
    b3dbl_2 = register_module("branch3x3dbl_2", sq(448, 384, 3, 1, 1));
    b3dbl_3a = register_module("branch3x3dbl_3a", row(384, 384, 3));
    b3dbl_3b = register_module("branch3x3dbl_3b", col(384, 384, 3));
    bPool = register_module("branch_pool", sq(in, 192, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor b3 = b3_1(x);
    torch::Tensor b3dbl = b3dbl_2(b3dbl_1(x));
    // torchvision concatenates the split branches first; one cat gives the same layout.
    return torch::cat({b1x1(x), b3_2a(b3), b3_2b(b3), b3dbl_3a(b3dbl), b3dbl_3b(b3dbl), bPool(avgPool3(x))}, 1);
  }
  BasicConv2d b1x1{nullptr}, b3_1{nullptr}, b3_2a{nullptr}, b3_2b{nullptr}, b3dbl_1{nullptr},
      b3dbl_2{nullptr}, b3dbl_3a{nullptr}, b3dbl_3b{nullptr}, bPool{nullptr};
};
TORCH_MODULE(InceptionE);

// The auxiliary classifier on Mixed_6e (training only).
struct InceptionAuxImpl : torch::nn::Module {
  InceptionAuxImpl(int64_t in, int64_t numClasses) {
    conv0 = register_module("conv0", sq(in, 128, 1));
    conv1 = register_module("conv1", sq(128, 768, 5));
    // torchvision sets conv1.stddev = 0.01 on the BasicConv2d, but its init loop reads
    // `stddev` from the inner nn.Conv2d, so conv1 gets the default 0.1 like every conv.
    fc = register_module("fc", makeHead(numClasses));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::avg_pool2d(x, 5, 3);
    y = conv1(conv0(y));
    y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
    return fc(y);
  }
  static torch::nn::Linear makeHead(int64_t numClasses) { return makeLinear(768, numClasses, 0.001); }
  void replaceHead(int64_t numClasses) { fc = replace_module("fc", makeHead(numClasses)); }

  BasicConv2d conv0{nullptr}, conv1{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(InceptionAux);

class Inception3 : public Model {
 public:
  explicit Inception3(int64_t numClasses) {
    Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", sq(3, 32, 3, 2));
    Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", sq(32, 32, 3));
    Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", sq(32, 64, 3, 1, 1));
    Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", sq(64, 80, 1));
    Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", sq(80, 192, 3));
    Mixed_5b = register_module("Mixed_5b", InceptionA(192, 32));
    Mixed_5c = register_module("Mixed_5c", InceptionA(256, 64));
    Mixed_5d = register_module("Mixed_5d", InceptionA(288, 64));
    Mixed_6a = register_module("Mixed_6a", InceptionB(288));
    Mixed_6b = register_module("Mixed_6b", InceptionC(768, 128));
    Mixed_6c = register_module("Mixed_6c", InceptionC(768, 160));
    Mixed_6d = register_module("Mixed_6d", InceptionC(768, 160));
    Mixed_6e = register_module("Mixed_6e", InceptionC(768, 192));
    AuxLogits = register_module("AuxLogits", InceptionAux(768, numClasses));
    Mixed_7a = register_module("Mixed_7a", InceptionD(768));
    Mixed_7b = register_module("Mixed_7b", InceptionE(1280));
    Mixed_7c = register_module("Mixed_7c", InceptionE(2048));
    fc = register_module("fc", makeHead(numClasses));
    declareTaps({"stem", "Mixed_5", "Mixed_6", "Mixed_7"});

    // torchvision's init: every conv trunc_normal(0, 0.1, -2, 2), BatchNorm 1/0 (the two
    // Linear layers were initialised by makeLinear).
    torch::NoGradGuard noGrad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        truncNormal(c->weight, 0.0, 0.1, -2.0, 2.0);
      } else if (auto* b = m->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(b->weight);
        torch::nn::init::zeros_(b->bias);
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    checkInput(x, kMinEvalSize);
    return run(x, nullptr);
  }

  std::vector<std::pair<torch::Tensor, double>> forwardTrain(torch::Tensor x) override {
    if (!is_training()) return {{forward(x), 1.0}};
    checkInput(x, kMinTrainSize);
    torch::Tensor aux;
    torch::Tensor main = run(x, &aux);
    return {{main, 1.0}, {aux, kAuxWeight}};
  }

  void replaceHead(int64_t numClasses) override {
    fc = replace_module("fc", makeHead(numClasses));
    AuxLogits->replaceHead(numClasses);
  }

  int64_t numClasses() const override { return fc->options.out_features(); }

 private:
  static torch::nn::Linear makeHead(int64_t numClasses) { return makeLinear(2048, numClasses, 0.1); }

  static void checkInput(const torch::Tensor& x, int64_t minSize) {
    if (x.dim() != 4 || x.size(1) != 3)
      throw UserError("inception_v3 expects input [N, 3, H, W], got " + shapeOf(x));
    if (x.size(2) < minSize || x.size(3) < minSize) {
      if (minSize == kMinTrainSize)
        throw UserError("inception_v3 trains with its auxiliary classifier, which needs inputs of at least " +
                        std::to_string(kMinTrainSize) + "x" + std::to_string(kMinTrainSize) + " (got " +
                        shapeOf(x) + "; evaluation takes " + std::to_string(kMinEvalSize) + "x" +
                        std::to_string(kMinEvalSize) + " and larger); use 299");
      throw UserError("inception_v3 takes inputs of at least " + std::to_string(kMinEvalSize) + "x" +
                      std::to_string(kMinEvalSize) + " (299x299 is what it was trained at), got " + shapeOf(x));
    }
  }

  // transform_input: x * (std / 0.5) + (mean - 0.5) / 0.5 per channel, then the network.
  // When `aux` is given (training), it receives the auxiliary logits.
  torch::Tensor run(torch::Tensor x, torch::Tensor* aux) {
    // Per channel with scalar operands, exactly as torchvision computes it.
    x = torch::cat({x.select(1, 0).unsqueeze(1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
                    x.select(1, 1).unsqueeze(1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
                    x.select(1, 2).unsqueeze(1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5},
                   1);
    x = Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x)));
    x = torch::max_pool2d(x, 3, 2);
    x = tap("stem", Conv2d_4a_3x3(Conv2d_3b_1x1(x)));
    x = torch::max_pool2d(x, 3, 2);
    x = tap("Mixed_5", Mixed_5d(Mixed_5c(Mixed_5b(x))));
    x = tap("Mixed_6", Mixed_6e(Mixed_6d(Mixed_6c(Mixed_6b(Mixed_6a(x))))));
    if (aux) *aux = AuxLogits(x);
    x = tap("Mixed_7", Mixed_7c(Mixed_7b(Mixed_7a(x))));
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    x = torch::dropout(x, kInceptionDropout, is_training());
    return fc(x);
  }

  BasicConv2d Conv2d_1a_3x3{nullptr}, Conv2d_2a_3x3{nullptr}, Conv2d_2b_3x3{nullptr}, Conv2d_3b_1x1{nullptr},
      Conv2d_4a_3x3{nullptr};
  InceptionA Mixed_5b{nullptr}, Mixed_5c{nullptr}, Mixed_5d{nullptr};
  InceptionB Mixed_6a{nullptr};
  InceptionC Mixed_6b{nullptr}, Mixed_6c{nullptr}, Mixed_6d{nullptr}, Mixed_6e{nullptr};
  InceptionAux AuxLogits{nullptr};
  InceptionD Mixed_7a{nullptr};
  InceptionE Mixed_7b{nullptr}, Mixed_7c{nullptr};
  torch::nn::Linear fc{nullptr};
};

std::vector<std::string> prefixes(const std::string& stem, const std::string& letters) {
  std::vector<std::string> out;
  for (char c : letters) out.push_back(stem + c + ".");
  return out;
}

}  // namespace

std::vector<RegistryEntry> inceptionEntries() {
  ModelInfo info;
  info.name = "inception_v3";
  info.imagenetWeights = "inception_v3_google-0cc3c7bd.pth";
  info.inputSize = 299;
  info.fixedInputSize = false;  // global average pooling: any size >= 75 (>= 299 to train with AuxLogits)
  info.defaultLr = 1e-3;
  info.headPrefixes = {"fc.", "AuxLogits.fc."};
  // The head group holds both classifiers: the main fc and the whole auxiliary branch
  // (AuxLogits.conv0/conv1/fc), which only serves training. The trunk stages follow the
  // paper's grids: Mixed_7 (8x8), Mixed_6 (17x17), Mixed_5 (35x35), then the stem convs.
  // Head-only training trains exactly the two replaced Linears (the paper's "head").
  // The auxiliary branch's convolutions hang off Mixed_6e, so they unfreeze with Mixed_6.
  auto mixed6 = prefixes("Mixed_6", "abcde");
  mixed6.insert(mixed6.end(), {"AuxLogits.conv0.", "AuxLogits.conv1."});
  info.groups = {
      {"fc", {"fc.", "AuxLogits.fc."}},
      {"Mixed_7", prefixes("Mixed_7", "abc")},
      {"Mixed_6", mixed6},
      {"Mixed_5", prefixes("Mixed_5", "bcd")},
      {"stem", {"Conv2d_1a_3x3.", "Conv2d_2a_3x3.", "Conv2d_2b_3x3.", "Conv2d_3b_1x1.", "Conv2d_4a_3x3."}},
  };
  info.camLayers = {"Mixed_5", "Mixed_6", "Mixed_7"};
  info.imagenetParams = 27161264;
  return {{info, [](int64_t n) { return std::make_shared<Inception3>(n); }}};
}

}  // namespace thtl::models
