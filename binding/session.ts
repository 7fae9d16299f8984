// Typed surface of the native Session (src-native/train/session_napi.cc).
import type { ImageSet } from './data.js';

export interface SessionOptions {
  model: string;
  numClasses: number;
  /** .pth or .safetensors with torchvision's keys; a head of another class count is skipped. */
  weights?: string;
  /** cpu | cuda | cuda:N | auto (default cpu) */
  device?: string;
  /** seeds LibTorch's generator before the model is initialised */
  seed?: number;
}

export interface SessionInfo {
  model: string;
  numClasses: number;
  device: string;
  inputSize: number;
  params: number;
  trainableParams: number;
  lr: number;
  frozenBatchNorm: 'train' | 'eval';
  groups: string[];
  /** empty: every parameter trains */
  trainableGroups: string[];
}

export interface EpochStats {
  loss: number;
  accuracy: number;
  samples: number;
  batches: number;
  seconds: number;
  /** learning rate used during this epoch */
  lr: number;
}

export interface EvalResult {
  loss: number;
  seconds: number;
  n: number;
  numClasses: number;
  /** n x numClasses softmax probabilities, row-major */
  probs: Float32Array;
  labels: Int32Array;
  /** image-set indices evaluated, in order (images that failed to decode are left out) */
  indices: Int32Array;
}

export type BatchProgress = (batch: number, batches: number, loss: number) => void;

export interface StateKey {
  name: string;
  shape: number[];
  /** false for buffers (BatchNorm statistics, index tables) */
  parameter: boolean;
  trainable: boolean;
}

export interface NativeSession {
  info(): SessionInfo;
  /** the model's state_dict keys in torchvision order, with shapes and flags */
  stateKeys(): StateKey[];
  loadWeights(path: string): Promise<{ loaded: number; skipped: string[] }>;
  replaceHead(numClasses: number): void;
  /** only these groups train; [] makes every parameter trainable */
  setTrainableGroups(groups: string[]): void;
  /** BatchNorm of frozen groups: 'train' (statistics keep updating, the default) or 'eval' */
  setFrozenBatchNorm(mode: 'train' | 'eval'): void;
  configureOptimizer(options: { lr: number; stepSize?: number; gamma?: number }): void;
  trainEpoch(
    images: ImageSet,
    labels: Int32Array,
    options: { batchSize: number; seed: number; onProgress?: BatchProgress },
  ): Promise<EpochStats>;
  evaluate(
    images: ImageSet,
    labels: Int32Array,
    options: { batchSize: number; onProgress?: BatchProgress },
  ): Promise<EvalResult>;
  predict(input: Float32Array, shape: number[]): Promise<{ data: Float32Array; shape: number[] }>;
  saveCheckpoint(path: string, metaJson: string): Promise<void>;
  /** resolves with the metadata JSON string saved with the checkpoint */
  loadCheckpoint(path: string): Promise<string>;
  saveWeights(path: string): Promise<void>;
}

export interface SessionApi {
  Session: { create(options: SessionOptions): Promise<NativeSession> };
}
