// The device the parity suite runs its models on: cpu here; the GPU check script sets
// THTL_TEST_DEVICE=cuda. The torchvision references are computed on the CPU, and cuDNN
// runs convolutions in TF32 by default (as PyTorch does), so on CUDA the bounds widen to
// what TF32 rounding allows; the measured differences are printed either way.
export const TEST_DEVICE = process.env.THTL_TEST_DEVICE ?? 'cpu';

const CUDA_BOUND = 2e-2;

/** The bound for a comparison whose CPU bound is `cpu`. */
export function bound(cpu: number): number {
  return TEST_DEVICE === 'cpu' ? cpu : Math.max(cpu, CUDA_BOUND);
}
