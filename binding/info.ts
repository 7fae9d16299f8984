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
  /** 'caching' (the addon's; freed large blocks are kept for the next step and handed
   * back after a few idle seconds) or 'default' (LibTorch's, with THTL_CPU_ALLOCATOR=default) */
  kind: 'caching' | 'default';
  cachedBytes: number;
  cachedBlocks: number;
  /** large allocations served from the cache / from the system since the process started */
  hits: number;
  misses: number;
}

export interface InfoApi {
  info(): NativeInfo;
  /** sets LibTorch's intra-op threads (0 = all cores); returns the count in force */
  setThreads(n: number): number;
  /** the device a Session created now with `spec` (cpu | cuda | cuda:N | auto) would use:
   * 'cpu' or 'cuda:N'; throws the one-line reason when it cannot (no CUDA, no such GPU) */
  resolveDevice(spec: string): string;
}
