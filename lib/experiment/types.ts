// Shared shapes of an experiment study: what one finished run records, and what the
// report (tables, ROC figures) is built from. Written by the experiment runner,
// read by `thtl-native report`.
import type { RunResult } from '../train/runner.js';

/** The paper's protocol ids. '4' has two stages: the `+` model (intermediate domain) and `++` (target, head only). */
export type ProtocolId = '1' | '2' | '3' | '4' | 'swft' | 'lora-swft';

/** Which row of which table a run belongs to. */
export type Stage =
  | 'expt1' // ** ImageNet weights, all trained
  | 'expt2' // ^  random init, all trained
  | 'expt3' // *  ImageNet weights, head only
  | 'plus' //  +  intermediate domain, all trained (Table 5)
  | 'plusplus' // ++ target, head only, from the + model
  | 'swft' //  SWFT step k on the + model
  | 'lora'; //  LoRA step k on the + model

/** One row of the report in the study plan: which run folder fills it. */
export interface PlanEntry {
  stage: Stage;
  model: string;
  /** 1-based repetition index; the seed is derived from the base seed and this index */
  run: number;
  seed: number;
  /** SWFT / LoRA step (1..number of groups); absent for other stages */
  step?: number;
  /** run folder, relative to the study folder (several entries may share one) */
  dir: string;
}

/** One finished training run (one seed) as the report sees it: final.json of its run folder plus its place in the plan. */
export interface RunRecord
  extends PlanEntry,
    Pick<RunResult, 'classes' | 'epochsRun' | 'bestEpoch' | 'avgEpochSeconds' | 'valAccuracy' | 'valLoss' | 'trainableParams' | 'totalParams' | 'test'> {}
