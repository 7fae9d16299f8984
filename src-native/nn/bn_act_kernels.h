// The inner loops of the fused batch-norm + activation (nn/bn_act.cc) on raw pointers.
//
// They are compiled three times (bn_act_isa_*.cc) with different instruction-set flags
// (AVX-512, AVX2 + FMA, the build's baseline) and picked once at run time by what the CPU
// supports. That is why this header and the loops include nothing from LibTorch or the
// standard library: an inline function of a shared header compiled with AVX-512 flags could
// be the copy the linker keeps for the whole program and then run on a CPU without them.
// The threading (at::parallel_for) lives in bn_act.cc, which calls these per chunk.
#pragma once
#include <cstdint>

namespace thtl::nn::kernels {

enum ActKind : int { kActNone = 0, kActRelu = 1, kActRelu6 = 2, kActSilu = 3 };

// A [N, C, H, W] tensor, dense either as NCHW (planes of HW values per (n, c)) or as
// channels_last (rows of C values per (n, h, w)).
struct Geometry {
  int64_t n = 0, c = 0, hw = 0;
  bool channelsLast = false;
  bool bf16 = false;  // bfloat16 values (raw 16-bit); else float32
};

struct Table {
  const char* isa;
  // Sums of (x - ref[c]) and (x - ref[c])^2 per channel (ref: any value near the
  // channel's mean, so that the squares keep their precision). NCHW: channels
  // [begin, end), written. channels_last: rows [begin, end), added into sum/sumsq.
  void (*stats)(const void* x, const Geometry& g, int64_t begin, int64_t end, const float* ref, double* sum,
                double* sumsq);
  // y = act((x - mean[c]) * scale[c] + shift[c] (+ res)), scale = invstd * weight and shift
  // the bias: x - mean is exact in float where x is near the mean (a folded
  // x * scale + (bias - mean * scale) loses the digits the mean and x share). NCHW: planes
  // n*C + c in [begin, end); channels_last: rows.
  void (*forward)(const void* x, const void* res, void* y, int act, const Geometry& g, int64_t begin,
                  int64_t end, const float* scale, const float* shift, const float* mean);
  // With gz = dy * act'(z) (z recomputed from x, mean, scale, shift and res as forward does): sums of gz and
  // gz * (x - mean[c]) per channel (as stats: NCHW written per channel, channels_last rows
  // added), and gz itself into gOut when not null.
  void (*backwardSums)(const void* dy, const void* x, const void* res, void* gOut, int act, const Geometry& g,
                       int64_t begin, int64_t end, const float* scale, const float* shift, const float* mean,
                       double* sumG, double* sumGX);
  // dx = (gz - meanG[c] - (x - mean[c]) * k[c]) * a[c], gz read from `gz` when `gzReady`
  // (then act/res are not needed), else recomputed from dy. Ranges as forward.
  void (*backwardDx)(const void* dyOrGz, bool gzReady, const void* x, const void* res, void* dx, int act,
                     const Geometry& g, int64_t begin, int64_t end, const float* scale, const float* shift,
                     const float* mean, const float* meanG, const float* k, const float* a);
};

// nullptr where this build or this CPU lacks the instruction set.
const Table* avx512Table();
const Table* avx2Table();
const Table* baseTable();

}  // namespace thtl::nn::kernels
