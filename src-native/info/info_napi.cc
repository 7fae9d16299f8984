// Facts for `thtl-native doctor`, and the thread-count setting.
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <fstream>
#include <set>
#include <string>

#include "common/cpu_allocator.h"
#include "napi/guard.h"
#include "napi/args.h"
#include "napi/register.h"
#include "common/threads.h"
#include "nn/bn_act.h"
#include "train/session.h"

#ifdef THTL_WITH_CUDA
// Only the runtime API (device names, versions): ATen/cuda/CUDAContext.h would pull in the
// cuBLAS, cuSPARSE and cuSOLVER headers for nothing.
#include <cuda_runtime_api.h>
#endif

namespace thtl {
namespace {

// The BLAS libraries actually mapped into this process (Debian picks libblas.so.3
// through alternatives, so the build-time configuration is not enough).
std::vector<std::string> loadedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  for (std::string line; std::getline(maps, line);) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string base = path.substr(path.rfind('/') + 1);
    for (const char* key : {"openblas", "libblas", "mkl_", "libblis", "libcblas", "accelerate"})
      if (base.find(key) != std::string::npos) found.insert(path);
  }
  return {found.begin(), found.end()};
}

// The LibTorch library file this process runs (libtorch_cpu.so, or libtorch.so when the
// build is a single library): with two installs on a machine, this says which one loaded.
std::string loadedTorchLibrary() {
  std::ifstream maps("/proc/self/maps");
  std::string fallback;
  for (std::string line; std::getline(maps, line);) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string base = path.substr(path.rfind('/') + 1);
    if (base.rfind("libtorch_cpu.so", 0) == 0) return path;
    if (base.rfind("libtorch.so", 0) == 0 && fallback.empty()) fallback = path;
  }
  return fallback;
}

// One `KEY=value` item of LibTorch's build settings (at::show_config), "" when absent.
// The version there is the one of the library that loaded, not of the headers built against.
std::string configValue(const std::string& config, const std::string& key) {
  auto at = config.find(key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 1;
  auto end = config.find_first_of(", \n", at);
  return config.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

#ifdef THTL_WITH_CUDA
// CUDART_VERSION 13000 -> "13.0"
std::string cudaVersionString(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}
#endif

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "info", [&]() -> Napi::Value {
    // Touch LibTorch's BLAS so the library is loaded before we look for it.
    torch::mm(torch::ones({2, 2}), torch::ones({2, 2}));
    Napi::Object o = Napi::Object::New(env);
    o.Set("torchVersion", TORCH_VERSION);
    o.Set("torchSource", THTL_TORCH_SOURCE);
    const std::string config = at::show_config();
    o.Set("runtimeTorchVersion", configValue(config, "TORCH_VERSION"));
    o.Set("blasInfo", configValue(config, "BLAS_INFO"));
    o.Set("torchLibrary", loadedTorchLibrary());
#ifdef THTL_WITH_CUDA
    o.Set("cudaBuilt", Napi::Boolean::New(env, true));
    o.Set("cudaVersion", cudaVersionString(CUDART_VERSION));
#else
    o.Set("cudaBuilt", Napi::Boolean::New(env, false));
    o.Set("cudaVersion", "");
#endif
    const bool cuda = torch::cuda::is_available();
    o.Set("cudaAvailable", Napi::Boolean::New(env, cuda));
    auto devices = Napi::Array::New(env);
    const size_t count = cuda ? static_cast<size_t>(torch::cuda::device_count()) : 0;
    for (size_t i = 0; i < count; ++i) {
#ifdef THTL_WITH_CUDA
      cudaDeviceProp prop{};
      const bool named = cudaGetDeviceProperties(&prop, static_cast<int>(i)) == cudaSuccess;
      devices.Set(static_cast<uint32_t>(i), named ? std::string(prop.name) : "cuda:" + std::to_string(i));
#else
      devices.Set(static_cast<uint32_t>(i), "cuda:" + std::to_string(i));
#endif
    }
    o.Set("cudaDevices", devices);
    auto blas = Napi::Array::New(env);
    auto libs = loadedBlas();
    for (size_t i = 0; i < libs.size(); ++i) blas.Set(static_cast<uint32_t>(i), libs[i]);
    o.Set("blas", blas);
    o.Set("threads", Napi::Number::New(env, torchThreads()));
    o.Set("parallelInfo", at::get_parallel_info());
    const CpuCacheStats cache = cpuCacheStats();
    Napi::Object alloc = Napi::Object::New(env);
    alloc.Set("kind", cpuAllocatorName());
    alloc.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(cache.cachedBytes)));
    alloc.Set("cachedBlocks", Napi::Number::New(env, static_cast<double>(cache.cachedBlocks)));
    alloc.Set("hits", Napi::Number::New(env, static_cast<double>(cache.hits)));
    alloc.Set("misses", Napi::Number::New(env, static_cast<double>(cache.misses)));
    alloc.Set("liveBytes", Napi::Number::New(env, static_cast<double>(cache.liveBytes)));
    alloc.Set("peakLiveBytes", Napi::Number::New(env, static_cast<double>(cache.peakLiveBytes)));
    alloc.Set("peakHeldBytes", Napi::Number::New(env, static_cast<double>(cache.peakHeldBytes)));
    o.Set("cpuAllocator", alloc);
    Napi::Object fused = Napi::Object::New(env);
    fused.Set("on", Napi::Boolean::New(env, nn::fusedBatchNorm()));
    fused.Set("threaded", Napi::Boolean::New(env, nn::fusedBatchNormThreaded()));
    fused.Set("isa", nn::fusedKernelIsa());
    o.Set("fusedBatchNorm", fused);
    // the memory format of a CPU session's training steps for a convolutional model unless told
    o.Set("cpuChannelsLast", Napi::Boolean::New(env, train::channelsLastOverride().value_or(at::hasMKLDNN())));
    return o;
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  setTorchThreads(static_cast<int>(Args(info, "setThreads").integer(0, "n (0 = all cores)", 0, 4096)));
  return Napi::Number::New(info.Env(), torchThreads());
}

// The device a Session created now with this spec would use ("cpu", "cuda:0"), or the
// one-line error it would throw: callers check --device before any other work.
Napi::Value ResolveDevice(const Napi::CallbackInfo& info) {
  const std::string spec = Args(info, "resolveDevice").string(0, "device");
  return guard(info.Env(), "resolveDevice", [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), train::parseDevice(spec).str());
  });
}

}  // namespace

void registerInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("resolveDevice", Napi::Function::New(env, ResolveDevice, "resolveDevice"));
}

}  // namespace thtl
