// Typed surface of the native facts used by `thtl-native doctor`.
export interface NativeInfo {
  /** the LibTorch headers the addon was compiled against */
  torchVersion: string;
  /** where CMake found LibTorch at build time */
  torchSource: string;
  /** the LibTorch library loaded now (its build settings); '' if it does not say */
  runtimeTorchVersion: string;
  /** LibTorch's own BLAS setting (mkl when MKL is linked in statically, as pip torch does) */
  blasInfo: string;
  /** path of the loaded libtorch_cpu.so (or libtorch.so) */
  torchLibrary: string;
  /** compiled with CUDA support */
  cudaBuilt: boolean;
  /** the CUDA version compiled against ("13.0"), '' for a CPU build */
  cudaVersion: string;
  cudaAvailable: boolean;
  cudaDevices: string[];
  /** BLAS libraries mapped into the process */
  blas: string[];
  threads: number;
  parallelInfo: string;
  /** the allocator behind CPU tensors and what its cache holds now */
  cpuAllocator: CpuAllocatorInfo;
  /** the fused batch-norm + activation training kernels (CPU) */
  fusedBatchNorm: FusedBatchNormInfo;
  /** the memory format of a CPU session's training steps for a convolutional model unless
   * told: channels_last (true) where LibTorch has oneDNN (vgg19 and the transformers keep
   * NCHW), else NCHW; THTL_CHANNELS_LAST=0 / =1 override */
  cpuChannelsLast: boolean;
}

export interface FusedBatchNormInfo {
  /** in use for training on the CPU: on by default where `threaded`; THTL_FUSED_BN=0 / =1 override */
  on: boolean;
  /** its loops run on LibTorch's intra-op threads (false: a build without OpenMP against an OpenMP LibTorch) */
  threaded: boolean;
  /** the instruction set of its loops on this CPU: 'avx512', 'avx2' or 'base' */
  isa: string;
}

export interface CpuAllocatorInfo {
  /** 'caching' (the addon's: tensors of 128 KiB and more are carved out of memory it keeps,
   * reused from step to step and handed back after a few idle seconds) or 'default'
   * (LibTorch's, with THTL_CPU_ALLOCATOR=default) */
  kind: 'caching' | 'default';
  /** freed memory kept for reuse, and the number of free ranges it lies in */
  cachedBytes: number;
  cachedBlocks: number;
  /** large allocations carved out of memory already held / that needed a new chunk, since
   * the process started */
  hits: number;
  misses: number;
  /** bytes of large blocks in use now, and the most in use at once */
  liveBytes: number;
  peakLiveBytes: number;
  /** the most held at once, in use plus cached: the cache's cost in memory is at most
   * peakHeldBytes - peakLiveBytes */
  peakHeldBytes: number;
}

export interface InfoApi {
  info(): NativeInfo;
  /** sets LibTorch's intra-op threads (0 = all cores); returns the count in force */
  setThreads(n: number): number;
  /** the device a Session created now with `spec` (cpu | cuda | cuda:N | auto) would use:
   * 'cpu' or 'cuda:N'; throws the one-line reason when it cannot (no CUDA, no such GPU) */
  resolveDevice(spec: string): string;
}
