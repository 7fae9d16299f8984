// What a study is made of: the training recipe, the experiment sets and the study's
// settings (StudyConfig), with the paper's defaults. config-file.ts reads them from JSON.
import { DEFAULT_TRAIN_CONFIG, type Precision } from '../train/config.js';
import type { Monitor } from '../train/early-stopping.js';
import type { ProtocolId } from './types.js';

/** The paper's training recipe; every field can be overridden by a config file or flags. */
export interface Recipe {
  epochs: number;
  batchSize: number;
  patience: number;
  minDelta: number;
  monitor: Monitor;
  stepSize: number;
  gamma: number;
  frozenBn: 'train' | 'eval';
  /** mixed precision of the forward passes: fp32 (none), bf16, fp16 (CUDA) */
  precision: Precision;
  /** channels_last memory format for weights and batches */
  channelsLast: boolean;
  /** one learning rate for all models, or per model; default: the registry's (the paper's) */
  lr?: number | Record<string, number>;
  /** square input size; default: the model's */
  inputSize?: number;
  device: string;
  threads: number;
  cacheDir?: string;
  noCache?: boolean;
  skipBadImages: boolean;
}

export const DEFAULT_RECIPE: Recipe = {
  epochs: DEFAULT_TRAIN_CONFIG.epochs,
  batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
  patience: DEFAULT_TRAIN_CONFIG.patience,
  minDelta: DEFAULT_TRAIN_CONFIG.minDelta,
  monitor: DEFAULT_TRAIN_CONFIG.monitor,
  stepSize: DEFAULT_TRAIN_CONFIG.stepSize,
  gamma: DEFAULT_TRAIN_CONFIG.gamma,
  frozenBn: DEFAULT_TRAIN_CONFIG.frozenBn,
  precision: DEFAULT_TRAIN_CONFIG.precision,
  channelsLast: DEFAULT_TRAIN_CONFIG.channelsLast,
  device: DEFAULT_TRAIN_CONFIG.device,
  threads: DEFAULT_TRAIN_CONFIG.threads,
  skipBadImages: false,
};

export interface ExperimentSet {
  protocols: ProtocolId[];
  models: string[];
  /** SWFT / LoRA steps to run (default: 1..number of groups) */
  steps?: number[];
}

export interface StudyConfig {
  /** title of the report */
  name: string;
  experiments: ExperimentSet[];
  /** target dataset spec (CE-NBI): folder, spreadsheet, manifest or JSON spec */
  target: string;
  /** intermediate dataset spec (DR trainLabels.csv); needed by protocols 4, swft, lora-swft */
  intermediate?: string;
  /** folder with torchvision's published ImageNet weight files */
  weightsDir?: string;
  /** per-model initial weights used instead of ImageNet (the demo's synthetic source model) */
  initialWeights?: Record<string, string>;
  runs: number;
  /** base seed: the splits use it; run r trains with mixSeed(seed, r) */
  seed: number;
  targetSplit: number[];
  intermediateSplit: number[];
  groupBy?: 'patient';
  lora: { rank: number; alpha: number };
  recipe: Recipe;
  out: string;
}

export const DEFAULT_STUDY: Omit<StudyConfig, 'experiments' | 'target' | 'out'> = {
  name: 'THTL study',
  runs: 3,
  seed: 123,
  targetSplit: [0.7, 0.2, 0.1],
  intermediateSplit: [0.7, 0.3],
  lora: { rank: 8, alpha: 16 },
  recipe: DEFAULT_RECIPE,
};
