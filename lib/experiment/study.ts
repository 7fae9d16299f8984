// A study: protocols x models x runs, planned into training units (plan.ts), run one
// after another with resume (or in parallel child processes, lib/scale/local.ts), and
// reported. The pieces: protocols.ts (ids), study-config.ts
// (StudyConfig, Recipe, defaults), plan.ts, unit-config.ts (a unit's TrainConfig, input
// checks), splits.ts (the shared split files), study-folder.ts (study.json, finished runs).
import { mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import { native } from '../../binding/index.js';
import { consoleProgress, formatDuration, type ProgressSink } from '../progress.js';
import { writeJsonAtomic } from '../runfolder.js';
import { modelGroups } from '../models/index.js';
import { trainRun, type RunOptions, type RunResult } from '../train/runner.js';
import { planStudy, type Plan, type Unit } from './plan.js';
import { studySplits, type StudySplits } from '../split/index.js';
import type { StudyConfig } from './study-config.js';
import { collectRecords, type StudyFile } from './study-folder.js';
import type { RunRecord } from './types.js';
import { checkStudy, unitConfig } from './unit-config.js';

export type { PlanEntry } from './types.js';
export { PROTOCOLS, parseProtocols } from './protocols.js';
export { DEFAULT_RECIPE, DEFAULT_STUDY, type ExperimentSet, type Recipe, type StudyConfig } from './study-config.js';
export { planStudy, runSeed, type Plan, type Unit } from './plan.js';
export { unitConfig } from './unit-config.js';
export { collectRecords, readStudyFile, type StudyFile } from './study-folder.js';

export interface StudyResult {
  dir: string;
  records: RunRecord[];
  reportFiles: string[];
  seconds: number;
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
 * Everything before training: checks the inputs, writes study.json, makes the shared
 * splits (so that units run by other processes only read them).
 */
export async function prepareStudy(cfg: StudyConfig, progress: ProgressSink = consoleProgress()): Promise<PreparedStudy> {
  const out = resolve(cfg.out);
  const plan = planStudy(cfg, modelGroups); // unknown model names throw here
  checkStudy(cfg, plan.units);
  const modelOrder = [...new Set(cfg.experiments.flatMap((s) => s.models))];
  const study: StudyFile = { version: 1, name: cfg.name, config: cfg, modelOrder, entries: plan.entries };
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, 'study.json'), study);
  const splits = await studySplits(cfg, plan.units.some((u) => u.domain === 'intermediate'), progress);
  return { out, cfg, plan, study, splits };
}

/** How the units of a study run: one after another in this process, or in parallel child processes. */
export interface StudyRunOptions extends RunOptions {
  /** parallel child processes (`--executor local --workers N`); 1 or absent: in this process */
  workers?: number;
  /** one child process per GPU, each seeing only its own (`--gpus 0,1`) */
  gpus?: string[];
  /** false: no report at the end (the caller writes it later, as the demo does after LayerCAM) */
  report?: boolean;
}

/** Runs (or resumes) a study; `options.signal` aborts it between and inside runs (resumable). */
export async function runStudy(cfg: StudyConfig, progress: ProgressSink = consoleProgress(), options: StudyRunOptions = {}): Promise<StudyResult> {
  const t0 = Date.now();
  const prepared = await prepareStudy(cfg, progress);
  const { out, plan } = prepared;
  progress.line(`${cfg.name}: ${plan.units.length} training run(s), ${plan.entries.length} report row(s) -> ${out}`);
  if ((options.workers ?? 1) > 1 || options.gpus) {
    const { runUnitsLocally } = await import('../scale/local.js');
    await runUnitsLocally(prepared, { workers: options.workers ?? 1, ...(options.gpus ? { gpus: options.gpus } : {}), ...(options.signal ? { signal: options.signal } : {}) }, progress);
  } else {
    native().setThreads(cfg.recipe.threads);
    for (const [i, unit] of plan.units.entries()) {
      const tag = `[${i + 1}/${plan.units.length}] ${unit.dir}`;
      progress.line(`${tag}: ${describeUnit(unit)}`);
      const r = await trainRun(unitConfig(cfg, unit, prepared.splits), prefixed(progress, tag), options);
      if (r.reused) continue; // the runner has said so
      progress.line(`${tag}: ${r.epochsRun} epochs, ${summarize(r)} (elapsed ${formatDuration((Date.now() - t0) / 1000)})`);
    }
  }
  const { records } = collectRecords(out, prepared.study);
  const reportFiles = options.report === false ? [] : await writeStudyReport(out, prepared.study, records);
  if (reportFiles.length > 0) progress.line(`report: ${reportFiles.length} file(s) in ${join(out, 'report')}`);
  return { dir: out, records, reportFiles, seconds: (Date.now() - t0) / 1000 };
}

/** "test accuracy 0.9, AUC 0.95" (or the validation accuracy of a run without a test split). */
function summarize(r: Pick<RunResult, 'test' | 'valAccuracy'>): string {
  return r.test ? `test accuracy ${r.test.accuracy.toFixed(4)}${r.test.auc !== null ? `, AUC ${r.test.auc.toFixed(4)}` : ''}` : `val accuracy ${r.valAccuracy.toFixed(4)}`;
}

/** What a unit trains, in words. */
export function describeUnit(u: Unit): string {
  const init = u.init === 'plus' ? `the + model (${u.after})` : u.init === 'imagenet' ? 'ImageNet weights' : 'random initialisation';
  const what = u.lora ? `head + LoRA on ${u.lora.join(', ') || 'no group'}` : u.trainable === 'all' ? 'every parameter' : u.trainable.join(', ');
  return `${u.model} on the ${u.domain} domain from ${init}, training ${what}, seed ${u.seed}`;
}

function prefixed(p: ProgressSink, tag: string): ProgressSink {
  const short = tag.split(' ')[0]!;
  return { status: (s) => p.status(`${short} ${s}`), line: (s) => p.line(`${short} ${s}`) };
}

/**
 * Tables, ROC figures and the statistics (comparisons, run intervals) of a study folder
 * into <dir>/report, and with `html` the self-contained report/index.html; `thtl-native
 * report` calls the same.
 */
export async function writeStudyReport(dir: string, study: Pick<StudyFile, 'modelOrder' | 'name'>, records: RunRecord[], o: { html?: boolean } = {}): Promise<string[]> {
  const { writeReport } = await import('../report/index.js');
  const { writeStatistics } = await import('../report/statistics-files.js');
  const reportDir = join(dir, 'report');
  const files = await writeReport(reportDir, records, { modelOrder: study.modelOrder, title: study.name });
  const stats = writeStatistics(dir, reportDir, records, { modelOrder: study.modelOrder, title: study.name });
  files.push(...stats.files);
  if (o.html) {
    const { writeHtmlReport } = await import('../report/html.js');
    files.push(await writeHtmlReport(dir, reportDir, records, { title: study.name, modelOrder: study.modelOrder, statistics: stats.stats }));
  }
  return files.map((f) => relative(dir, f));
}
