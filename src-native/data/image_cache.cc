// The decoded-image cache (parallel decode) and normalised training batches.
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/errors.h"
#include "common/imagenet.h"
#include "data/decode_pool.h"
#include "data/images.h"

namespace thtl::data {

std::shared_ptr<ImageCache> buildCache(const std::vector<std::string>& files, int64_t size,
                                       int threads, bool skipBad,
                                       const std::function<void(size_t, size_t)>& progress) {
  if (size <= 0 || size > 16384)
    throw UserError("image size must be in 1..16384, got " + std::to_string(size));
  auto cache = std::make_shared<ImageCache>();
  cache->size = size;
  cache->files = files;
  const size_t n = files.size();
  cache->pixels = torch::empty({static_cast<int64_t>(n), 3, size, size}, torch::kUInt8);
  if (n == 0) return cache;
  std::memset(cache->pixels.data_ptr<uint8_t>(), 0, static_cast<size_t>(cache->pixels.numel()));

  uint8_t* base = cache->pixels.data_ptr<uint8_t>();
  const size_t stride = static_cast<size_t>(3 * size * size);
  DecodeJob job(files, size, threads, skipBad);
  job.items.resize(n);
  for (size_t i = 0; i < n; ++i) job.items[i] = i;
  job.slot = [base, stride](size_t i) { return base + i * stride; };
  job.progress = progress;
  DecodeOutcome outcome = decodeFiles(job);
  outcome.rethrow();
  cache->failures = std::move(outcome.failures);
  cache->decoded = n;
  return cache;
}

namespace {

using Lut = std::array<std::array<float, 256>, 3>;

Lut normalisationLut(const Normalisation& norm) {
  Lut t{};
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v)
      t[c][v] = static_cast<float>((static_cast<double>(v) / 255.0 - norm.mean[c]) / norm.std[c]);
  return t;
}

// ImageNet's table, built once (ImageSet batches use it on the JS thread).
const Lut& imagenetLut() {
  static const Lut lut = normalisationLut(Normalisation{});
  return lut;
}

Lut lutFor(const Normalisation& norm) {
  const Normalisation imagenet;
  return norm.mean == imagenet.mean && norm.std == imagenet.std ? imagenetLut() : normalisationLut(norm);
}


// Checks the indices and draws the flips (one rng() & 1 per image, in order, with augment).
std::vector<uint8_t> prepareBatch(const ImageCache& cache, const std::vector<int64_t>& indices,
                                  bool augment, std::mt19937_64& rng) {
  checkIndices(cache, indices);
  return drawFlips(indices.size(), augment, rng);
}

// Normalises planes [begin, end) of the batch (plane p = image p / 3, channel p % 3).
void fillPlanes(const ImageCache& cache, const std::vector<int64_t>& indices, const std::vector<uint8_t>& flip,
                const Lut& lut, float* dst, int64_t begin, int64_t end) {
  const int64_t s = cache.size;
  const int64_t plane = s * s;
  const uint8_t* src = cache.pixels.data_ptr<uint8_t>();
  for (int64_t p = begin; p < end; ++p) {
    const int64_t item = p / 3;
    const int64_t c = p % 3;
    const uint8_t* in = src + (indices[item] * 3 + c) * plane;
    float* o = dst + p * plane;
    const float* table = lut[c].data();
    if (!flip[item]) {
      for (int64_t i = 0; i < plane; ++i) o[i] = table[in[i]];
    } else {
      for (int64_t y = 0; y < s; ++y) {
        const uint8_t* row = in + y * s;
        float* orow = o + y * s;
        for (int64_t x = 0; x < s; ++x) orow[x] = table[row[s - 1 - x]];
      }
    }
  }
}

}  // namespace

void checkIndices(const ImageCache& cache, const std::vector<int64_t>& indices) {
  const int64_t count = cache.pixels.defined() ? cache.pixels.size(0) : 0;
  for (int64_t idx : indices) {
    if (idx < 0 || idx >= count)
      throw UserError("image index " + std::to_string(idx) + " is out of range (the image set has " +
                      std::to_string(count) + " images)");
  }
}

std::vector<uint8_t> drawFlips(size_t n, bool augment, std::mt19937_64& rng) {
  std::vector<uint8_t> flip(n, 0);
  if (augment)
    for (auto& f : flip) f = static_cast<uint8_t>(rng() & 1);
  return flip;
}

namespace {
// The batch for checked indices and their flips.
torch::Tensor fillBatch(const ImageCache& cache, const std::vector<int64_t>& indices,
                        const std::vector<uint8_t>& flips, const Normalisation& norm) {
  const int64_t b = static_cast<int64_t>(indices.size());
  if (flips.size() != indices.size()) throw std::logic_error("batchWithFlips: one flip per index");
  torch::Tensor out = torch::empty({b, 3, cache.size, cache.size}, torch::kFloat32);
  if (b == 0) return out;
  float* dst = out.data_ptr<float>();
  const Lut lut = lutFor(norm);
  at::parallel_for(0, b * 3, 2, [&](int64_t begin, int64_t end) { fillPlanes(cache, indices, flips, lut, dst, begin, end); });
  return out;
}
}  // namespace

torch::Tensor makeBatch(const ImageCache& cache, const std::vector<int64_t>& indices,
                        bool augment, std::mt19937_64& rng, const Normalisation& norm) {
  return fillBatch(cache, indices, prepareBatch(cache, indices, augment, rng), norm);
}

torch::Tensor batchWithFlips(const ImageCache& cache, const std::vector<int64_t>& indices,
                             const std::vector<uint8_t>& flips, const Normalisation& norm) {
  checkIndices(cache, indices);
  return fillBatch(cache, indices, flips, norm);
}

torch::Tensor normaliseOnDevice(const torch::Tensor& pixels, const std::vector<uint8_t>& flips,
                                const Normalisation& norm) {
  if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.scalar_type() != torch::kUInt8)
    throw std::logic_error("normaliseOnDevice: expected uint8 [B, 3, H, W]");
  if (static_cast<size_t>(pixels.size(0)) != flips.size()) throw std::logic_error("normaliseOnDevice: one flip per image");
  const Lut lut = lutFor(norm);
  const auto opts = torch::TensorOptions().device(pixels.device());
  // The table as [3 * 256] floats; entry c * 256 + v is channel c's value for pixel v.
  torch::Tensor table = torch::from_blob(const_cast<float*>(lut[0].data()), {3 * 256}, torch::kFloat32)
                            .to(opts.dtype(torch::kFloat32));
  torch::Tensor offsets = torch::arange(0, 3 * 256, 256, opts.dtype(torch::kLong)).view({1, 3, 1, 1});
  torch::Tensor x = table.take(pixels.to(torch::kLong).add_(offsets));
  std::vector<int64_t> flipped;
  for (size_t i = 0; i < flips.size(); ++i)
    if (flips[i]) flipped.push_back(static_cast<int64_t>(i));
  if (!flipped.empty()) {
    torch::Tensor rows = torch::tensor(flipped, torch::kLong).to(pixels.device());
    x.index_copy_(0, rows, x.index_select(0, rows).flip({3}));
  }
  return x;
}

void fillBatchSerial(const ImageCache& cache, const std::vector<int64_t>& indices, bool augment,
                     std::mt19937_64& rng, float* dst) {
  const std::vector<uint8_t> flip = prepareBatch(cache, indices, augment, rng);
  fillPlanes(cache, indices, flip, imagenetLut(), dst, 0, static_cast<int64_t>(indices.size()) * 3);
}

}  // namespace thtl::data
