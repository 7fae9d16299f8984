// The one in-process unit runner: a study run in this process (study.ts) and
// `thtl-native run-unit` (lib/scale/run-unit.ts, which local workers and Slurm tasks run)
// both train a unit through trainUnit.
import type { ProgressSink } from '../util/progress.js';
import { setTorchThreads } from '../util/threads.js';
import type { StudySplits } from '../split/index.js';
import { trainRun, type RunOptions, type RunResult } from '../train/runner.js';
import type { Unit } from './plan.js';
import type { StudyConfig } from './study-config.js';
import { unitConfig } from './unit-config.js';

/** What a unit trains, in words. */
export function describeUnit(u: Unit): string {
  const init = u.init === 'plus' ? `the + model (${u.after})` : u.init === 'imagenet' ? 'ImageNet weights' : 'random initialisation';
  const what = u.lora ? `head + LoRA on ${u.lora.join(', ') || 'no group'}` : u.trainable === 'all' ? 'every parameter' : u.trainable.join(', ');
  return `${u.model} on the ${u.domain} domain from ${init}, training ${what}, seed ${u.seed}`;
}

/**
 * Trains (or resumes, or reuses) one unit of a study in this process: the recipe's thread
 * count, a `<tag>: <what it trains>` line on `progress`, then the run, reporting to
 * `runProgress`.
 */
export async function trainUnit(
  cfg: StudyConfig,
  unit: Unit,
  splits: StudySplits,
  tag: string,
  progress: ProgressSink,
  options: RunOptions = {},
  runProgress: ProgressSink = progress,
): Promise<RunResult> {
  setTorchThreads(cfg.recipe.threads);
  progress.line(`${tag}: ${describeUnit(unit)}`);
  return trainRun(unitConfig(cfg, unit, splits), runProgress, options);
}
