// `thtl-native run-unit DIR UNIT`: one training unit of a prepared study, run into the
// study folder by whichever process is given it (a Slurm array task, a local worker, a
// person). Safe alongside other processes: the unit's run folder is locked while it
// trains (lib/util/lock.ts), the splits are only read, and the decode cache has its own lock.
import { join, resolve } from 'node:path';

import type { Unit } from '../experiment/plan.js';
import { registryPlan } from '../experiment/prepare.js';
import type { StudyConfig } from '../experiment/study-config.js';
import { readStudyFile } from '../experiment/study-folder.js';
import { trainUnit } from '../experiment/train-unit.js';
import { checkStudy } from '../experiment/unit-config.js';
import type { ProgressSink } from '../util/progress.js';
import { studySplits } from '../split/index.js';
import type { RunOptions, RunResult } from '../train/runner.js';
import { unitFinished, unitId } from './plan-file.js';

/** Settings of the process that runs a unit; not part of what makes two runs the same run. */
export interface UnitOverrides {
  threads?: number;
  device?: string;
}

/** The study's config as read from study.json, with its folder where it is now. */
export function studyConfigAt(dir: string): StudyConfig {
  return { ...readStudyFile(dir).config, out: resolve(dir) };
}

/** The unit of a study named by its id (`resnet18.run-1.plus`) or its run folder (`runs/resnet18/run-1/plus`). */
export function findUnit(cfg: StudyConfig, which: string): Unit {
  const plan = registryPlan(cfg);
  const unit = plan.units.find((u) => unitId(u) === which || u.dir === which.replace(/\/+$/, ''));
  if (!unit) {
    const ids = plan.units.map(unitId);
    throw new Error(`the study in ${cfg.out} has no unit ${which}; its ${ids.length} unit(s): ${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ', ...' : ''}`);
  }
  return unit;
}

export async function runUnit(dir: string, which: string, overrides: UnitOverrides, progress: ProgressSink, options: RunOptions = {}): Promise<RunResult> {
  const base = studyConfigAt(dir);
  const cfg: StudyConfig = {
    ...base,
    recipe: { ...base.recipe, ...(overrides.threads !== undefined ? { threads: overrides.threads } : {}), ...(overrides.device ? { device: overrides.device } : {}) },
  };
  const unit = findUnit(cfg, which);
  if (unit.after && !unitFinished(cfg.out, { dir: unit.after }))
    throw new Error(`unit ${unitId(unit)} starts from ${unitId({ dir: unit.after })}, which has not finished (no ${join(cfg.out, unit.after, 'final.json')}): run that unit first`);
  checkStudy(cfg, [unit]);
  const splits = await studySplits(cfg, unit.domain === 'intermediate', progress);
  return trainUnit(cfg, unit, splits, unitId(unit), progress, options);
}
