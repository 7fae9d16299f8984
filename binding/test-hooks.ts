// The hooks of a test build (thtl_native_test.node, built with the CMake option
// THTL_TEST_HOOKS=ON): absent from the release addon.
import type { WeightEntry } from './weights.js';

/** Result of the internal `_testLoadStateDict` hook. */
export interface TestLoadResult {
  /** The UserError message, or null when the load succeeded. */
  error: string | null;
  loaded: string[];
  skipped: string[];
  /** Whether the module's state equals its state before the load attempt. */
  unchanged: boolean;
  /** The module's state_dict after the attempt, in torchvision order. */
  state: WeightEntry[];
}

/** Result of the internal `_testLoraConv` hook: one conv's output three ways. */
export interface TestLoraConvResult {
  /** conv with the refreshed weight W + scaling * B.A */
  viaDelta: Float32Array;
  /** conv(x, W) + scaling * B(A(x)) */
  viaAdapters: Float32Array;
  /** after merge() */
  merged: Float32Array;
  /** conv(x, W) without the adapter */
  base: Float32Array;
  /** parameter names after merge() */
  keys: string[];
}

/** Result of the internal `_testNormalise` hook: one batch normalised two ways. */
export interface TestNormaliseResult {
  /** the CPU batch path (makeBatch's lookup table) */
  host: Float32Array;
  /** the GPU batch path (uint8 shipped to the device, normalised there), copied back */
  device: Float32Array;
  /** the flips drawn, one per image */
  flips: boolean[];
}

/** Per result of one BatchNorm2d + activation: ||a - b|| / ||b||. */
export interface BnActDiffs {
  y: number;
  dx: number;
  dWeight: number;
  dBias: number;
  /** 0 without a residual */
  dResidual: number;
  runningMean: number;
  runningVar: number;
}

/** Result of the internal `_testBnAct` hook: fused against unfused, and each against float64. */
export interface TestBnActResult extends BnActDiffs {
  /** the instruction set of the fused loops: avx512, avx2 or base */
  isa: string;
  /** each float path against the unfused layer run in float64 on the same values */
  vsDouble: { fused: BnActDiffs; unfused: BnActDiffs };
}

/** Two runs of `_testFusedBn` side by side: run a against run b. */
export interface FusedBnDiffs {
  /** per step: [a, b] */
  losses: [number, number][];
  /** largest, over the steps, relative difference of the whole gradient */
  gradAllRel: number;
  /** largest relative difference of one parameter's gradient, and which (and when) */
  gradRel: number;
  gradWorst: string;
  /** the parameter whose gradient adds most to the whole gradient's difference */
  gradMost: string;
  /** largest relative difference of one parameter after the last step */
  paramRel: number;
  paramWorst: string;
  /** largest relative difference of a floating-point buffer (BatchNorm running statistics) */
  statRel: number;
  /** relative difference of all floating-point buffers at once */
  statAllRel: number;
}

/** Result of the internal `_testFusedBn` hook: a few training steps fused and unfused. */
export interface TestFusedBnResult extends FusedBnDiffs {
  isa: string;
  /** compare 'double' only: the unfused float32 run against the float64 one */
  unfused?: FusedBnDiffs;
}

export interface TestHooksApi {
  /**
   * Builds a small torchvision-style module (features = [Conv2d(3,4,3, padding=1,
   * bias=False), BatchNorm2d(4), ReLU()], classifier = Linear(4, numClasses)) and loads the
   * file into it with loadStateDict.
   */
  _testLoadStateDict(path: string, numClasses: number, skipPrefixes?: string[]): TestLoadResult;
  /** One LoRA-adapted Conv2d (nn/lora); throws for groups > 1. */
  _testLoraConv(options: {
    inChannels: number;
    outChannels: number;
    kernel: number;
    stride?: number;
    padding?: number;
    dilation?: number;
    groups?: number;
    rank?: number;
    alpha?: number;
    seed?: number;
    size?: number;
    bias?: boolean;
  }): TestLoraConvResult;
  /**
   * Random uint8 pixels [count, 3, size, size] normalised by the host batch path and by the
   * device batch path on `device` (default cpu), with the flips a training batch would draw.
   */
  _testNormalise(options: {
    count?: number;
    size?: number;
    seed?: number;
    augment?: boolean;
    mean?: [number, number, number];
    std?: [number, number, number];
    device?: string;
  }): TestNormaliseResult;
  /** One BatchNorm2d (+ residual) + activation on random data, fused and unfused (nn/bn_act). */
  _testBnAct(options: {
    n?: number;
    c?: number;
    h?: number;
    w?: number;
    act?: 'none' | 'relu' | 'relu6' | 'silu';
    residual?: boolean;
    bf16?: boolean;
    channelsLast?: boolean;
    seed?: number;
    /** added to the input: a mean far from zero */
    shift?: number;
  }): TestBnActResult;
  /**
   * A registry model trained `steps` steps (random input, SGD by default) twice from one seed:
   * compare 'fused' (default) fused against unfused; 'perturbed' unfused against unfused on
   * the input scaled by 1 + 2^-20; 'threads' unfused on 1 thread against 2; 'double' (float32
   * only) fused against the unfused path in float64, with `unfused` the float32 unfused run
   * against that same float64 run.
   */
  _testFusedBn(options: {
    model: string;
    size?: number;
    batch?: number;
    steps?: number;
    seed?: number;
    bf16?: boolean;
    channelsLast?: boolean;
    lr?: number;
    optimizer?: 'sgd' | 'adam';
    compare?: 'fused' | 'perturbed' | 'threads' | 'double';
  }): TestFusedBnResult;
  /** the fused batch-norm path on or off for the whole process; returns the setting before */
  _testSetFusedBn(on: boolean): boolean;
  /**
   * a script of large CPU tensors: n > 0 allocates n MiB (every byte written; blocks are
   * numbered 1, 2, ... in that order), n < 0 frees block -n, 0 runs the idle release; after
   * each op the CPU allocator's counters and the process's resident set
   */
  _testCpuBlocks(ops: number[]): { hits: number; misses: number; liveBytes: number; cachedBytes: number; residentBytes: number }[];
}
