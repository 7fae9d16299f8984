// Reading a study folder: study.json (the config and the plan's report rows) and the
// final.json of each finished run, as the report's RunRecords.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RunResult } from '../train/runner.js';
import type { StudyConfig } from './study-config.js';
import type { PlanEntry, RunRecord } from './types.js';

export interface StudyFile {
  version: 1;
  name: string;
  config: StudyConfig;
  modelOrder: string[];
  entries: PlanEntry[];
}

export function readStudyFile(dir: string): StudyFile {
  const path = join(dir, 'study.json');
  if (!existsSync(path)) throw new Error(`${path} does not exist: ${dir} is not a study folder (made by \`thtl-native experiment\` or \`reproduce\`)`);
  return JSON.parse(readFileSync(path, 'utf8')) as StudyFile;
}

/** The report rows of a study folder: one RunRecord per plan entry whose run has finished. */
export function collectRecords(dir: string, study: Pick<StudyFile, 'entries'> = readStudyFile(dir)): { records: RunRecord[]; missing: PlanEntry[] } {
  const records: RunRecord[] = [];
  const missing: PlanEntry[] = [];
  for (const e of study.entries) {
    const finalPath = join(dir, e.dir, 'final.json');
    if (!existsSync(finalPath)) {
      missing.push(e);
      continue;
    }
    const f = JSON.parse(readFileSync(finalPath, 'utf8')) as RunResult;
    if (!f.test && e.stage !== 'plus') {
      missing.push(e);
      continue;
    }
    records.push({
      stage: e.stage,
      model: e.model,
      run: e.run,
      seed: e.seed,
      ...(e.fold !== undefined ? { fold: e.fold } : {}),
      ...(e.step !== undefined ? { step: e.step } : {}),
      classes: f.classes,
      ...(f.ordinal ? { ordinal: true } : {}),
      epochsRun: f.epochsRun,
      bestEpoch: f.bestEpoch,
      avgEpochSeconds: f.avgEpochSeconds,
      valAccuracy: f.valAccuracy,
      valLoss: f.valLoss,
      trainableParams: f.trainableParams,
      totalParams: f.totalParams,
      test: f.test,
      dir: e.dir,
    });
  }
  return { records, missing };
}
