// A study made ready to run: its plan (with each model's parameter groups from the
// registry), study.json and the shared splits. The study runner (study.ts) and the
// executors (lib/scale/) both start from a PreparedStudy; this module imports neither.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { modelGroups } from '../models/index.js';
import { consoleProgress, type ProgressSink } from '../util/progress.js';
import { moveAside, studyIn, writeJsonAtomic } from '../util/runfolder.js';
import { studySplits, type StudySplits } from '../split/index.js';
import { planStudy, type Plan } from './plan.js';
import type { StudyConfig } from './study-config.js';
import { checkStudyFolder, type StudyFile, type StudyFolderOptions } from './study-folder.js';
import { checkStudy } from './unit-config.js';

/** The plan of a study, each model's parameter groups taken from the registry; an unknown model name throws here. */
export function registryPlan(cfg: Pick<StudyConfig, 'experiments' | 'runs' | 'seed' | 'folds'>): Plan {
  return planStudy(cfg, modelGroups);
}

/** A study made ready to run: study.json and the splits written, the plan made. */
export interface PreparedStudy {
  /** the study folder (absolute) */
  out: string;
  cfg: StudyConfig;
  plan: Plan;
  study: StudyFile;
  splits: StudySplits;
}

/**
 * Everything before training: checks the inputs, makes the shared splits (so that units
 * run by other processes only read them), writes study.json. With `folder`, a folder that
 * holds a started study is first checked (checkStudyFolder: resume with the same
 * settings, or force, which moves the old study aside once the inputs are checked);
 * without it the folder is taken up as it is (the demo, a unit's child process).
 */
export async function prepareStudy(cfg: StudyConfig, progress: ProgressSink = consoleProgress(), folder?: StudyFolderOptions): Promise<PreparedStudy> {
  const out = resolve(cfg.out);
  if (folder) checkStudyFolder(cfg, folder);
  const plan = registryPlan(cfg);
  checkStudy(cfg, plan.units);
  if (folder?.force && studyIn(out)) progress.line(`moved the study that was in ${out} to ${moveAside(out)}`);
  const modelOrder = [...new Set(cfg.experiments.flatMap((s) => s.models))];
  const study: StudyFile = { version: 1, name: cfg.name, config: cfg, modelOrder, entries: plan.entries };
  // the splits are made (and their datasets checked) before study.json is written
  const splits = await studySplits(cfg, plan.units.some((u) => u.domain === 'intermediate'), progress);
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, 'study.json'), study);
  return { out, cfg, plan, study, splits };
}
