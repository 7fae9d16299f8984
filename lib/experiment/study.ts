// A study: protocols x models x runs, planned into training units (plan.ts), run one
// after another with resume (or in parallel child processes, lib/scale/local.ts), and
// reported. The pieces: protocols.ts (ids), study-config.ts
// (StudyConfig, Recipe, defaults), plan.ts, prepare.ts (study.json, the plan, the shared
// splits of lib/split/study.ts), unit-config.ts (a unit's TrainConfig, input checks),
// train-unit.ts (one unit in this process), study-folder.ts (study.json, finished runs).
import { join, relative } from 'node:path';

import { consoleProgress, formatDuration, type ProgressSink, type UnitEvent } from '../util/progress.js';
import type { RunOptions, RunResult } from '../train/runner.js';
import { unitId } from '../scale/plan-file.js';
import type { Unit } from './plan.js';
import { prepareStudy } from './prepare.js';
import type { StudyConfig } from './study-config.js';
import { collectRecords, type StudyFile, type StudyFolderOptions } from './study-folder.js';
import { trainUnit } from './train-unit.js';
import type { RunRecord } from './types.js';

export type { PlanEntry } from './types.js';
export { PROTOCOLS, parseProtocols } from './protocols.js';
export { DEFAULT_RECIPE, DEFAULT_STUDY, type ExperimentSet, type Recipe, type StudyConfig } from './study-config.js';
export { planStudy, runSeed, type Plan, type Unit } from './plan.js';
export { unitConfig } from './unit-config.js';
export { prepareStudy, registryPlan, type PreparedStudy } from './prepare.js';
export { describeUnit, trainUnit } from './train-unit.js';
export { checkStudyFolder, collectRecords, readStudyFile, StudyFolderError, type StudyFile, type StudyFolderOptions } from './study-folder.js';

export interface StudyResult {
  dir: string;
  records: RunRecord[];
  reportFiles: string[];
  seconds: number;
}

/** How the units of a study run: one after another in this process, or in parallel child processes. */
export interface StudyRunOptions extends RunOptions {
  /** parallel child processes (`--executor local --workers N`); 1 or absent: in this process */
  workers?: number;
  /** one child process per GPU, each seeing only its own (`--gpus 0,1`) */
  gpus?: string[];
  /** false: no report at the end (the caller writes it later, as the demo does after LayerCAM) */
  report?: boolean;
  /** a folder that holds a started study: resume it, or force (move it aside); see prepareStudy */
  folder?: StudyFolderOptions;
}

/** Runs (or resumes) a study; `options.signal` aborts it between and inside runs (resumable). */
export async function runStudy(cfg: StudyConfig, progress: ProgressSink = consoleProgress(), options: StudyRunOptions = {}): Promise<StudyResult> {
  const t0 = Date.now();
  const prepared = await prepareStudy(cfg, progress, options.folder);
  const { out, plan } = prepared;
  progress.line(`${cfg.name}: ${plan.units.length} training run(s), ${plan.entries.length} report row(s) -> ${out}`);
  if ((options.workers ?? 1) > 1 || options.gpus) {
    const { runUnitsLocally } = await import('../scale/local.js');
    await runUnitsLocally(prepared, { workers: options.workers ?? 1, ...(options.gpus ? { gpus: options.gpus } : {}), ...(options.signal ? { signal: options.signal } : {}) }, progress);
  } else {
    for (const [i, unit] of plan.units.entries()) {
      const tag = `[${i + 1}/${plan.units.length}] ${unit.dir}`;
      const r = await reportingUnit(progress, unit, () => trainUnit(cfg, unit, prepared.splits, tag, progress, options, prefixed(progress, tag, unitId(unit))));
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

/** `train` of one unit, with its unit event (finished, reused, or failed unless interrupted) on `progress`. */
async function reportingUnit(progress: ProgressSink, unit: Unit, train: () => Promise<RunResult>): Promise<RunResult> {
  const t0 = Date.now();
  const done = (status: UnitEvent['status'], error?: string) =>
    progress.event?.({ event: 'unit', unit: unitId(unit), status, dir: unit.dir, seconds: (Date.now() - t0) / 1000, ...(error !== undefined ? { error } : {}) });
  try {
    const r = await train();
    done(r.reused ? 'reused' : 'finished');
    return r;
  } catch (err) {
    if ((err as Error).name !== 'AbortError') done('failed', (err as Error).message);
    throw err;
  }
}

/** The unit's progress: lines prefixed with its place in the study, epoch events with its id. */
function prefixed(p: ProgressSink, tag: string, unit: string): ProgressSink {
  const short = tag.split(' ')[0]!;
  return {
    status: (s) => p.status(`${short} ${s}`),
    line: (s) => p.line(`${short} ${s}`),
    event: (e) => p.event?.(e.event === 'epoch' ? { ...e, unit } : e),
  };
}

/**
 * Tables, ROC figures, the statistics (comparisons, run intervals) and, with folds, the
 * cross-validation summary (cv.md, cv.json) of a study folder
 * into <dir>/report, and with `html` the self-contained report/index.html; `thtl-native
 * report` calls the same.
 */
export async function writeStudyReport(dir: string, study: Pick<StudyFile, 'modelOrder' | 'name'> & { config?: Pick<StudyConfig, 'folds'> }, records: RunRecord[], o: { html?: boolean } = {}): Promise<string[]> {
  const { writeReport } = await import('../report/index.js');
  const { writeStatistics } = await import('../report/statistics-files.js');
  const { TestPredictions } = await import('../report/test-predictions.js');
  const reportDir = join(dir, 'report');
  const predictions = new TestPredictions(dir); // each run's predictions.csv read once for tables, figures and statistics
  const folds = study.config?.folds;
  // a study with folds: its cross-validation summary (bootstrap intervals), made once for cv.md/json and the HTML page
  const cv = folds !== undefined ? (await import('../report/folds.js')).buildFoldsReport(records, predictions, { title: study.name, of: folds, modelOrder: study.modelOrder }) : undefined;
  const files = await writeReport(reportDir, records, { modelOrder: study.modelOrder, title: study.name, predictions, ...(cv ? { cv } : {}) });
  const stats = writeStatistics(dir, reportDir, records, { modelOrder: study.modelOrder, title: study.name, predictions });
  files.push(...stats.files);
  if (o.html) {
    const { writeHtmlReport } = await import('../report/html.js');
    files.push(await writeHtmlReport(dir, reportDir, records, { title: study.name, modelOrder: study.modelOrder, statistics: stats.stats, predictions, ...(cv ? { cv } : {}) }));
  }
  return files.map((f) => relative(dir, f));
}
