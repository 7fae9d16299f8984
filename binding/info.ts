// Typed surface of the native facts used by `thtl-native doctor`.
export interface NativeInfo {
  torchVersion: string;
  /** where CMake found LibTorch at build time */
  torchSource: string;
  cudaAvailable: boolean;
  cudaDevices: string[];
  /** BLAS libraries mapped into the process */
  blas: string[];
  threads: number;
  parallelInfo: string;
}

export interface InfoApi {
  info(): NativeInfo;
  /** sets LibTorch's intra-op threads (0 = all cores); returns the count in force */
  setThreads(n: number): number;
}
