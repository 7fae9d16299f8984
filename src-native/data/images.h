// Image decode (JPEG/PNG), resize, the decoded-image cache, batches, and encode.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/imagenet.h"

namespace thtl::data {

// Decodes a JPEG or PNG (by content) and resizes it to size x size RGB.
// JPEGs are decoded with DCT-domain downscaling to the smallest scale that is
// still >= size on both sides, then resized with antialiased bilinear filtering.
// Returns uint8 [3, size, size]. Throws UserError naming the file on failure.
torch::Tensor decodeResized(const std::string& path, int64_t size);

// Writes an RGB image (uint8, height*width*3 interleaved) as JPEG or PNG, chosen by
// the extension of `path` (.jpg/.jpeg/.png). Atomic (temp file + rename).
void encodeImage(const std::string& path, const uint8_t* rgb, int width, int height,
                 int jpegQuality = 92);

struct DecodeFailure {
  size_t index;
  std::string file;
  std::string reason;
};

// Decoded-and-resized images, kept for reuse across epochs. `pixels` lives in memory, or
// in a read-only memory-mapped disk cache file (data/disk_cache.h) that the tensor's
// storage keeps mapped for as long as any tensor shares it.
struct ImageCache {
  int64_t size = 0;
  std::vector<std::string> files;
  torch::Tensor pixels;                // uint8 [N, 3, size, size]; read-only when mapped
  std::vector<DecodeFailure> failures; // files that could not be decoded
  size_t decoded = 0;                  // slots decoded by this build (successes and failures)
  size_t reused = 0;                   // slots taken from a disk cache without decoding
  std::string cacheFile;               // the mapped pixel file; empty when in memory
};

// Decodes `files` on `threads` worker threads. `progress(done, total)` is called
// from worker threads (it must be thread-safe). With skipBad=false the first
// failure throws UserError naming the file (after workers stop); with
// skipBad=true failures are recorded and their slots left zero.
std::shared_ptr<ImageCache> buildCache(const std::vector<std::string>& files, int64_t size,
                                       int threads, bool skipBad,
                                       const std::function<void(size_t, size_t)>& progress);

// The horizontal flips of a batch of `n` images: one rng() & 1 per image, in order, with
// `augment` (all zero without). CPU and GPU batches draw them the same way.
std::vector<uint8_t> drawFlips(size_t n, bool augment, std::mt19937_64& rng);

// Throws UserError for an index outside the cache.
void checkIndices(const ImageCache& cache, const std::vector<int64_t>& indices);

// An input normalisation: pixel v of channel c becomes (v / 255 - mean[c]) / std[c],
// computed in double and rounded to float once, so that every device gives the same bits.
// A model's batches take its registry row's mean/std (Session::normalisation), on the
// CPU and on a GPU alike; the default is ImageNet's.
struct Normalisation {
  std::array<double, 3> mean = kImagenetMean;
  std::array<double, 3> std = kImagenetStd;
};

// A float batch [B, 3, size, size] for `indices`, normalised, with a random horizontal flip
// (p = 0.5, drawn from `rng`) when `augment` is true.
torch::Tensor makeBatch(const ImageCache& cache, const std::vector<int64_t>& indices,
                        bool augment, std::mt19937_64& rng, const Normalisation& norm);

// The same batch for given flips (one per index, non-zero = mirrored), without drawing.
torch::Tensor batchWithFlips(const ImageCache& cache, const std::vector<int64_t>& indices,
                             const std::vector<uint8_t>& flips, const Normalisation& norm);

// The same normalisation and flips applied where `pixels` lives (uint8 [B, 3, H, W]; a GPU
// batch ships these bytes, a quarter of the floats): a table lookup of the values
// makeBatch uses, so the result equals makeBatch's bit for bit on any device.
torch::Tensor normaliseOnDevice(const torch::Tensor& pixels, const std::vector<uint8_t>& flips,
                                const Normalisation& norm);

// The same batch written to `dst` (indices.size() * 3 * size * size floats) on the
// calling thread alone, with ImageNet's normalisation (no model is known there): no
// LibTorch op, so any thread may call it (ImageSet.batch does, on the JS thread, without
// waiting for the compute thread).
void fillBatchSerial(const ImageCache& cache, const std::vector<int64_t>& indices, bool augment,
                     std::mt19937_64& rng, float* dst);

}  // namespace thtl::data
