// A training run's settings. Defaults are the paper's recipe.
import { homedir } from 'node:os';
import { join } from 'node:path';

import type { Precision } from '../../binding/session.js';
import type { Monitor } from './early-stopping.js';

export type { Precision };
/** Mixed precision of the forward passes: none, bfloat16 autocast, float16 autocast with loss scaling (CUDA). */
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];

export interface TrainConfig {
  model: string;
  /** dataset: an ImageFolder, a manifest CSV, DR trainLabels.csv or a JSON spec (docs/DATASETS.md) */
  data: string;
  /** reuse this split.json instead of splitting `data` */
  splitFile?: string;
  /** keep every patient in one split */
  groupBy?: 'patient';
  /** split ratios applied to `data` when valDir/testDir are not given */
  split: number[];
  valDir?: string;
  testDir?: string;
  epochs: number;
  batchSize: number;
  /** default: the model's learning rate in the registry */
  lr?: number;
  /** default: the model's input size in the registry */
  inputSize?: number;
  headOnly: boolean;
  /** BatchNorm of frozen groups: 'train' keeps updating statistics (PyTorch's behaviour), 'eval' fixes them */
  frozenBn: 'train' | 'eval';
  weights?: string;
  device: string;
  /** mixed precision of the forward passes (autocast): fp32 (none), bf16, fp16 (CUDA) */
  precision: Precision;
  /** channels_last memory format for weights and batches */
  channelsLast: boolean;
  /** LibTorch intra-op threads; 0 = all cores */
  threads: number;
  seed: number;
  out: string;
  patience: number;
  minDelta: number;
  monitor: Monitor;
  stepSize: number;
  gamma: number;
  skipBadImages: boolean;
  /** decode cache folder (default: defaultCacheDir()); shared by runs, models and epochs */
  cacheDir?: string;
  /** decode into memory for this run only, no disk cache */
  noCache?: boolean;
  /** train only these groups (SWFT step k = the first k groups); overrides headOnly */
  trainableGroups?: string[];
  /** LoRA adapters on the convolutions/linears of these groups; the head group trains fully, other weights are frozen */
  lora?: { groups: string[]; rank: number; alpha: number };
  /** continue a run folder: a finished run is returned as it is, an interrupted one goes on from its last epoch */
  resume?: boolean;
  /** keep best.ckpt (model + optimiser) after the run; weights.safetensors is always written */
  keepCheckpoint?: boolean;
}

/** The decode cache folder when none is given: $THTL_CACHE_DIR, else ~/.cache/thtl-native. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.THTL_CACHE_DIR || join(homedir(), '.cache', 'thtl-native');
}

/** Where a run keeps its decode cache; undefined with noCache (decode into memory). */
export function resolveCacheDir(cfg: Pick<TrainConfig, 'cacheDir' | 'noCache'>): string | undefined {
  return cfg.noCache ? undefined : cfg.cacheDir || defaultCacheDir();
}

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'model' | 'data' | 'out'> = {
  split: [0.7, 0.2, 0.1],
  epochs: 70,
  batchSize: 32,
  headOnly: false,
  frozenBn: 'train',
  device: 'auto',
  precision: 'fp32',
  channelsLast: false,
  threads: 0,
  seed: 123,
  patience: 10,
  minDelta: 0,
  monitor: 'val_loss',
  stepSize: 5,
  gamma: 0.5,
  skipBadImages: false,
  keepCheckpoint: true,
};
