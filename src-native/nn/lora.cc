#include "nn/lora.h"

#include <cmath>
#include <sstream>

#include "common/errors.h"
#include "common/torch_compat.h"

namespace thtl::nn {
namespace {

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool underAny(const std::string& moduleName, const std::vector<std::string>& prefixes) {
  // Prefixes are state_dict key prefixes ("layer4.", "conv1."): compare against the
  // module's keys' common prefix, its name followed by a dot.
  const std::string keyPrefix = moduleName + ".";
  for (const auto& p : prefixes)
    if (!p.empty() && startsWith(keyPrefix, p)) return true;
  return false;
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

bool isLoraKey(const std::string& key) {
  for (const char* part : {"lora_A.", "lora_B."}) {
    const std::string p = part;
    if (startsWith(key, p) || key.find("." + p) != std::string::npos) return true;
  }
  return false;
}

LoraReport LoraSet::attach(torch::nn::Module& root, const std::vector<std::string>& prefixes, int64_t rank,
                           double alpha, const std::vector<std::string>& exclude,
                           const std::string& excludeReason) {
  if (rank < 1) throw UserError("LoRA rank must be at least 1, got " + std::to_string(rank));
  if (!(alpha > 0) || !std::isfinite(alpha))
    throw UserError("LoRA alpha must be a positive number, got " + number(alpha));
  if (!adapters_.empty() && (rank != rank_ || alpha != alpha_))
    throw UserError("LoRA adapters of rank " + std::to_string(rank_) + ", alpha " + number(alpha_) +
                    " are already attached; cannot add rank " + std::to_string(rank) + ", alpha " +
                    number(alpha));

  LoraReport report;
  std::vector<Adapter> added;
  // named_modules() is a snapshot: registering adapters below does not extend it.
  for (const auto& item : root.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    const std::string& name = item.key();
    const std::shared_ptr<torch::nn::Module>& m = item.value();
    if (isLoraKey(name + ".")) continue;  // an adapter's own lora_A / lora_B
    auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m.get());
    auto* linear = dynamic_cast<torch::nn::LinearImpl*>(m.get());
    if (!conv && !linear) continue;
    if (!underAny(name, prefixes)) continue;
    if (underAny(name, exclude)) {
      report.skipped.push_back({name, excludeReason});
      continue;
    }
    const auto children = m->named_children();
    if (children.find("lora_A") || children.find("lora_B")) {
      report.skipped.push_back({name, "already adapted"});
      continue;
    }
    const torch::Tensor* basePtr = m->named_parameters(/*recurse=*/false).find("weight");
    if (!basePtr || !basePtr->defined()) {
      report.skipped.push_back({name, "no weight parameter"});
      continue;
    }
    const torch::Tensor base = *basePtr;

    std::shared_ptr<torch::nn::Module> a, b;
    if (conv) {
      const auto& o = conv->options;
      if (o.groups() != 1) {
        report.skipped.push_back({name, "grouped convolution (groups=" + std::to_string(o.groups()) + ")"});
        continue;
      }
      if (!compat::holds<torch::enumtype::kZeros>(o.padding_mode())) {
        report.skipped.push_back(
            {name, "padding mode " + torch::enumtype::get_enum_name(o.padding_mode()) + " (only zeros is supported)"});
        continue;
      }
      a = std::make_shared<torch::nn::Conv2dImpl>(torch::nn::Conv2dOptions(o.in_channels(), rank, o.kernel_size())
                                                      .stride(o.stride())
                                                      .padding(o.padding())
                                                      .dilation(o.dilation())
                                                      .bias(false));
      b = std::make_shared<torch::nn::Conv2dImpl>(torch::nn::Conv2dOptions(rank, o.out_channels(), 1).bias(false));
    } else {
      const auto& o = linear->options;
      a = std::make_shared<torch::nn::LinearImpl>(torch::nn::LinearOptions(o.in_features(), rank).bias(false));
      b = std::make_shared<torch::nn::LinearImpl>(torch::nn::LinearOptions(rank, o.out_features()).bias(false));
    }
    a->to(base.device(), base.scalar_type());
    b->to(base.device(), base.scalar_type());
    torch::Tensor aw = *a->named_parameters(false).find("weight");
    torch::Tensor bw = *b->named_parameters(false).find("weight");
    {
      torch::NoGradGuard noGrad;
      torch::nn::init::kaiming_uniform_(aw, std::sqrt(5.0));
      bw.zero_();
    }
    Adapter ad;
    ad.name = name;
    ad.module = m;
    ad.conv = conv;
    ad.linear = linear;
    ad.base = base;
    ad.a = aw;
    ad.b = bw;
    added.push_back(std::move(ad));
    // Registered only once every check above has passed for this module.
    m->register_module("lora_A", a);
    m->register_module("lora_B", b);
    report.adapted.push_back(name);
    report.loraParams += aw.numel() + bw.numel();
  }
  if (!added.empty()) {
    rank_ = rank;
    alpha_ = alpha;
    for (auto& ad : added) adapters_.push_back(std::move(ad));
  }
  return report;
}

torch::Tensor LoraSet::delta(const Adapter& ad) const {
  return torch::mm(ad.b.flatten(1), ad.a.flatten(1)).view_as(ad.base).mul(scaling());
}

void LoraSet::setMemberWeight(Adapter& ad, const torch::Tensor& w) {
  if (ad.conv) ad.conv->weight = w;
  else ad.linear->weight = w;
}

void LoraSet::refresh() {
  for (auto& ad : adapters_) setMemberWeight(ad, ad.base + delta(ad));
}

void LoraSet::merge() {
  torch::NoGradGuard noGrad;
  for (auto& ad : adapters_) {
    ad.base.add_(delta(ad));
    ad.module->unregister_module("lora_A");
    ad.module->unregister_module("lora_B");
    setMemberWeight(ad, ad.base);
  }
  adapters_.clear();
  rank_ = 0;
  alpha_ = 0;
}

std::vector<std::pair<std::string, torch::Tensor>> LoraSet::mergedState(
    const std::vector<std::pair<std::string, torch::Tensor>>& state) const {
  std::unordered_map<std::string, const Adapter*> byKey;
  for (const auto& ad : adapters_) byKey[ad.name + ".weight"] = &ad;
  torch::NoGradGuard noGrad;
  std::vector<std::pair<std::string, torch::Tensor>> out;
  out.reserve(state.size());
  for (const auto& [name, t] : state) {
    if (isLoraKey(name)) continue;
    auto it = byKey.find(name);
    if (it == byKey.end()) {
      out.emplace_back(name, t);
    } else {
      torch::Tensor d = delta(*it->second).to(t.device(), t.scalar_type());
      out.emplace_back(name, (t + d).contiguous());
    }
  }
  return out;
}

std::vector<std::string> LoraSet::moduleNames() const {
  std::vector<std::string> out;
  for (const auto& ad : adapters_) out.push_back(ad.name);
  return out;
}

std::vector<torch::Tensor> LoraSet::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& ad : adapters_) {
    out.push_back(ad.a);
    out.push_back(ad.b);
  }
  return out;
}

int64_t LoraSet::parameterCount() const {
  int64_t n = 0;
  for (const auto& ad : adapters_) n += ad.a.numel() + ad.b.numel();
  return n;
}

}  // namespace thtl::nn
