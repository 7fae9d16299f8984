// Reading a study folder: study.json (the config and the plan's report rows) and the
// final.json of each finished run, as the report's RunRecords; and the folder's guard:
// a folder whose study has started is taken up only to resume it with the same settings,
// or replaced (moved aside) on purpose.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { RESUME_FREE_OPTIONS } from '../train/config.js';
import type { RunResult } from '../train/runner.js';
import { studyIn } from '../util/runfolder.js';
import { RECIPE_OPTIONS, type StudyConfig } from './study-config.js';
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

/** How a study may treat a folder that already holds one. */
export interface StudyFolderOptions {
  /** go on with the study there (its settings must be the same, but for where and how it runs) */
  resume?: boolean;
  /** start over: the old study is moved aside to <out>.replaced-<time> (prepareStudy does it) */
  force?: boolean;
  /** retry failed units: can only mean going on with the study */
  retryFailed?: boolean;
}

/** A study folder that must not be taken over: `flagged` is the message naming the command line's flags. */
export class StudyFolderError extends Error {
  override name = 'StudyFolderError';
  constructor(
    message: string,
    readonly flagged: string,
  ) {
    super(message);
  }
}

/** Study settings a resumed study may change: where and how it runs, not what it computes (its folder, and the recipe's resumeFree options). */
const FREE_ON_RESUME = new Set(['out', ...RECIPE_OPTIONS.filter((name) => RESUME_FREE_OPTIONS.includes(name)).map((name) => `recipe.${name}`)]);

/** The settings (as "key" and "recipe.key") on which two study configs differ. */
export function studyDifferences(before: StudyConfig, now: StudyConfig): string[] {
  const flat = (c: StudyConfig): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(c)) if (k !== 'recipe') out[k] = JSON.stringify(v ?? null);
    for (const [k, v] of Object.entries(c.recipe ?? {})) out[`recipe.${k}`] = JSON.stringify(v ?? null);
    return out;
  };
  const a = flat(before);
  const b = flat(now);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => !FREE_ON_RESUME.has(k) && (a[k] ?? 'null') !== (b[k] ?? 'null'))
    .map((k) => `${k}: the study has ${a[k] ?? 'null'}, you gave ${b[k] ?? 'null'}`);
}

/**
 * A study folder is never taken over by accident: one whose study has started (it has
 * runs/) needs resume (with the same settings) or force; a study only planned holds
 * nothing to lose and is taken up. Throws StudyFolderError.
 */
export function checkStudyFolder(cfg: StudyConfig, o: StudyFolderOptions): void {
  const out = resolve(cfg.out);
  if (o.resume === true && o.force === true) throw new StudyFolderError('resume and force cannot go together: resume keeps the study in the folder, force replaces it', '--resume and --force cannot go together: --resume keeps the study in the folder, --force replaces it');
  if (!studyIn(out) || !existsSync(join(out, 'runs')) || o.force === true) return;
  const { missing } = collectRecords(out);
  const study = readStudyFile(out);
  const what = `a study (${study.entries.length - missing.length} of ${study.entries.length} report rows finished)`;
  const aside = `(the old study is moved to ${out}.replaced-<time>)`;
  if (o.resume !== true && o.retryFailed !== true)
    throw new StudyFolderError(`${out} holds ${what}; set resume to go on with it, or force to start over ${aside}`, `${out} holds ${what}; give --resume to go on with it, or --force to start over ${aside}`);
  const diff = studyDifferences(study.config, cfg);
  if (diff.length > 0) {
    const text = `${diff.join('; ')} (${out}); drop the change to resume, or start a new study with another`;
    throw new StudyFolderError(`${text} out folder or force`, `${text} --out or --force`);
  }
}
