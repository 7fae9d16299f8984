// What a study is made of: the training recipe, the experiment sets and the study's
// settings (StudyConfig), with the paper's defaults. config-file.ts reads them from JSON.
import { optionDefaults, type TrainConfig, type TrainOption } from '../train/config.js';
import type { ProtocolId } from './types.js';

/**
 * The training options a study sets for all its units (the rest are per unit: model, data,
 * seed, weights, trained groups, ...), in the order study.json keeps them. A recipe option
 * is one entry here plus its TRAIN_OPTIONS entry; unitConfig passes it on to each unit.
 */
export const RECIPE_OPTIONS = [
  'epochs', 'batchSize', 'patience', 'minDelta', 'monitor', 'stepSize', 'gamma', 'frozenBn', 'precision', 'channelsLast',
  'device', 'threads', 'skipBadImages', 'lr', 'inputSize', 'cacheDir', 'noCache',
] as const satisfies readonly TrainOption[];
export type RecipeOption = (typeof RECIPE_OPTIONS)[number];

/** The paper's training recipe; every field can be overridden by a config file or flags. */
export type Recipe = Omit<Pick<TrainConfig, RecipeOption>, 'lr'> & {
  /** one learning rate for all models, or per model; default: the registry's (the paper's) */
  lr?: number | Record<string, number>;
};

/** TRAIN_OPTIONS' defaults of the recipe options. */
export const DEFAULT_RECIPE: Recipe = optionDefaults(RECIPE_OPTIONS);

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
  /**
   * k-fold cross-validation of the target domain instead of one split: the target images
   * get K folds once (splits/folds.json; stratified, whole patients with groupBy), and
   * run k of every model and protocol is tested on fold k, validated on a part of the
   * other folds (targetSplit's val share of train + val) and trained on the rest. With
   * folds, runs is K (run k = fold k, in run folders runs/<model>/fold-<k>/).
   */
  folds?: number;
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
