// Training: one epoch of shuffled, augmented batches.
#include "train/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/fs.h"
#include "common/torch_compat.h"
#include "train/session_internal.h"

namespace thtl::train {

using namespace detail;

EpochStats Session::trainEpoch(const data::ImageCache& images, const std::vector<int32_t>& labels,
                               int64_t batchSize, uint64_t seed, const BatchProgress& progress) {
  return withPrecisionHint([&] { return trainEpochImpl(images, labels, batchSize, seed, progress); });
}

EpochStats Session::trainEpochImpl(const data::ImageCache& images, const std::vector<int32_t>& labels,
                                   int64_t batchSize, uint64_t seed, const BatchProgress& progress) {
  checkLabels(images, labels);
  if (batchSize < 1) throw UserError("batch size must be at least 1");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> order = usableIndices(images);
  if (order.empty()) throw UserError("no usable training images");
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  // A last batch of one sample cannot pass BatchNorm in training mode: drop it.
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t usable = (n > 1 && n % batchSize == 1) ? n - 1 : n;
  const int64_t batches = (usable + batchSize - 1) / batchSize;

  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(currentLr());
  useLayout(trainChannelsLast());
  enterTrainMode();
  EpochStats st;
  st.lr = currentLr();
  double lossSum = 0;
  int64_t correct = 0;
  auto nonFinite = [&](double value, int64_t b) {
    return UserError("training loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") +
                     " at batch " + std::to_string(b + 1) + "/" + std::to_string(batches) +
                     " (lr " + std::to_string(currentLr()) + "); lower the learning rate");
  };
  // On the CPU a loss is a number in memory: read it every batch. On a GPU each read
  // waits for the queued work, so losses and hits stay on the device and are read at
  // most once a second (for progress) and at the end of the epoch.
  const bool syncEachBatch = !device_.is_cuda();
  std::vector<torch::Tensor> batchLosses;  // GPU: each batch's mean loss, on the device
  torch::Tensor correctOnDevice;
  size_t lossesRead = 0;
  int64_t samplesRead = 0;
  double lossSumRead = 0;
  auto lastRead = std::chrono::steady_clock::now();
  auto readLosses = [&](int64_t upTo) {  // batches [lossesRead, upTo): one transfer
    if (static_cast<size_t>(upTo) <= lossesRead) return lossSumRead;
    std::vector<torch::Tensor> pending(batchLosses.begin() + static_cast<std::ptrdiff_t>(lossesRead), batchLosses.end());
    const torch::Tensor values = torch::stack(pending).to(torch::kCPU, torch::kDouble);
    const double* v = values.data_ptr<double>();
    for (size_t i = 0; i < pending.size(); ++i, ++lossesRead) {
      const int64_t lo = static_cast<int64_t>(lossesRead) * batchSize;
      const int64_t bs = std::min(usable, lo + batchSize) - lo;
      if (!std::isfinite(v[i])) throw nonFinite(v[i], static_cast<int64_t>(lossesRead));
      lossSumRead += v[i] * static_cast<double>(bs);
      samplesRead += bs;
    }
    return lossSumRead;
  };
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t lo = b * batchSize, hi = std::min(usable, lo + batchSize);
    std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
    torch::Tensor x = inModelLayout(batchOnDevice(images, idx, /*augment=*/true, rng));
    torch::Tensor y = labelTensor(labels, idx).to(device_, /*non_blocking=*/true);
    optimizer_->zero_grad();
    lora_.refresh();  // adapters changed at the last step: base + delta, with graph
    std::vector<std::pair<torch::Tensor, double>> outputs;
    {
      auto amp = autocast();  // the forward pass only; loss and backward in float32
      outputs = model_->forwardTrain(x);
    }
    torch::Tensor loss = torch::zeros({}, x.options().dtype(torch::kFloat));
    for (auto& [logits, weight] : outputs)
      loss = loss + weight * torch::nn::functional::cross_entropy(logits.to(torch::kFloat), y);
    const int64_t bs = hi - lo;
    if (syncEachBatch) {
      const double value = loss.item<double>();
      if (!std::isfinite(value)) throw nonFinite(value, b);
      lossSum += value * static_cast<double>(bs);
    } else {
      batchLosses.push_back(loss.detach());
    }
    backwardAndStep(loss);
    torch::Tensor hits = outputs.front().first.argmax(1).eq(y).sum();
    if (syncEachBatch) correct += hits.item<int64_t>();
    else correctOnDevice = correctOnDevice.defined() ? correctOnDevice + hits : hits;
    st.samples += bs;
    if (!syncEachBatch && (b + 1 == batches || secondsSince(lastRead) >= 1.0)) {
      lossSum = readLosses(b + 1);  // at most once a second, for the progress line
      lastRead = std::chrono::steady_clock::now();
    }
    if (progress) progress(b + 1, batches, lossSum / static_cast<double>(syncEachBatch ? st.samples : samplesRead));
  }
  if (!syncEachBatch) correct = correctOnDevice.item<int64_t>();
  ++schedulerEpoch_;  // StepLR.step() once per epoch, after the epoch
  st.batches = batches;
  st.loss = lossSum / static_cast<double>(st.samples);
  st.accuracy = static_cast<double>(correct) / static_cast<double>(st.samples);
  st.seconds = secondsSince(t0);
  return st;
}

}  // namespace thtl::train
