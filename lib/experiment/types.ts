// Shared shapes of an experiment study: what one finished run records, and what the
// report (tables, ROC figures) is built from. Written by the experiment runner,
// read by `thtl-native report`.
import type { RunResult } from '../train/runner.js';

// Protocol ids and stages are derived from the protocol table (protocols.ts).
export type { ProtocolId, Stage } from './protocols.js';
import type { Stage } from './protocols.js';

/** One row of the report in the study plan: which run folder fills it. */
export interface PlanEntry {
  stage: Stage;
  model: string;
  /** 1-based repetition index; the seed is derived from the base seed and this index */
  run: number;
  seed: number;
  /** with folds: the fold the run is tested on (= run) */
  fold?: number;
  /** SWFT / LoRA step (1..number of groups); absent for other stages */
  step?: number;
  /** run folder, relative to the study folder (several entries may share one) */
  dir: string;
}

/** One finished training run (one seed) as the report sees it: final.json of its run folder plus its place in the plan. */
export interface RunRecord
  extends PlanEntry,
    Pick<RunResult, 'classes' | 'ordinal' | 'epochsRun' | 'bestEpoch' | 'avgEpochSeconds' | 'valAccuracy' | 'valLoss' | 'trainableParams' | 'totalParams' | 'test'> {}
