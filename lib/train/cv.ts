// k-fold cross-validation of one training recipe: the dataset's images get K folds once
// (folds.json, kfoldAssign: stratified, patients kept in one fold with groupBy), and each
// fold k is an ordinary run folder `fold-k` trained by trainRun on split k (test = fold k,
// validation = a stratified, grouped, part of the other folds; its split file in
// splits/fold-k.json). Then cv.json and cv.md: the folds' test metrics, their mean and
// sample standard deviation, and the pooled out-of-fold test predictions (every image
// once) with bootstrap intervals (by patient where there are patients) and the ECE.
// A resumed cross-validation reuses folds.json (refusing one made with other settings)
// and resumes every fold: a finished fold is reused, an interrupted one goes on.
// Errors name the options (folds, seed ...); a command line names its flags.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { loadDataset } from '../data/dataset.js';
import { writeSplitFileIfChanged } from '../split/file.js';
import { describeFolds, foldsDifferences, foldValRatio, kfoldAssign, kfoldSplits, readFoldsFile, writeFoldsFile, type KFoldAssignment } from '../split/kfold.js';
import type { ScoredImage } from '../stats/bootstrap.js';
import { foldRow, foldsMarkdown, summarizeFolds, type FoldRow, type FoldsSummary } from '../stats/folds.js';
import { consoleProgress, type ProgressSink } from '../util/progress.js';
import { moveAside, runIn, writeFileAtomic, writeJsonAtomic } from '../util/runfolder.js';
import { checkTrainConfig, type TrainConfig } from './config.js';
import { readPredictions } from './predictions.js';
import { trainRun, type RunResult } from './runner.js';

export interface CrossValidationOptions {
  /** K, at least 2 and at most the number of patients (images without groupBy). */
  folds: number;
  /** Share of the other folds' images that go to validation; default split[1] / (split[0] + split[1]) of the config (0.2 / 0.9 by default). */
  valRatio?: number;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

export type { FoldRow, CvMetric } from '../stats/folds.js';

/** cv.json: the settings, then the folds' summary (per-fold rows, mean ± std, pooled out-of-fold metrics). */
export interface CvSummary extends FoldsSummary {
  version: 1;
  dataset: string;
  model: string;
  folds: number;
  groupBy: 'patient' | null;
  seed: number;
  valRatio: number;
  classes: string[];
}

export interface CrossValidationResult {
  dir: string;
  /** each fold's run result, fold 1 first */
  runs: RunResult[];
  summary: CvSummary;
}

/** An error of the fold settings (the folder, the number of folds, folds.json): `flagged` is the message naming the command line's flags. */
export class FoldsError extends Error {
  override name = 'FoldsError';
  constructor(
    message: string,
    readonly flagged: string,
  ) {
    super(message);
  }
}

/** kfoldAssign's message (options) with the command line's flags. */
const assignFlags = (message: string): string => message.replace(/\b(folds|seed)\b(?![.\w])/g, '--$1');

export { foldValRatio } from '../split/kfold.js';

/** Refuses a folds.json made with other settings or another dataset, naming what differs. */
function checkSameFolds(path: string, stored: KFoldAssignment, now: KFoldAssignment): void {
  const diff = foldsDifferences(stored, now);
  if (diff.length > 0) {
    const flags = (d: string): string => d.replace(/^(folds|seed): /, '--$1: ').replace(/^groupBy: /, '--group-by: ').replace(/^the dataset: /, '--data: ');
    throw new FoldsError(
      `${path} was made with other settings: ${diff.join('; ')}; write to another out folder, or set force to start over`,
      `${path} was made with other settings: ${diff.map(flags).join('; ')}; give another --out, or --force to start over`,
    );
  }
}

/** The test rows of fold k's predictions.csv. */
function foldTestImages(dir: string, k: number, classes: readonly string[]): ScoredImage[] {
  return readPredictions(join(dir, `fold-${k}`, 'predictions.csv'), classes)
    .filter((p) => p.split === 'test')
    .map((p) => ({ file: p.file, group: p.group, label: p.label, probs: p.probs }));
}

/** cv.md: the per-fold table with mean ± std, then the pooled out-of-fold metrics. */
export function cvMarkdown(s: CvSummary): string {
  return [
    `# Cross-validation: ${s.model}, ${s.folds} folds${s.groupBy ? ' grouped by patient' : ' by image'}`,
    '',
    `Dataset: ${s.dataset}. Classes: ${s.classes.join(', ')}. Folds: folds.json (seed ${s.seed}); each fold's run in fold-k/, ` +
      `tested on fold k, validated on ${(s.valRatio * 100).toFixed(1)}% of the other folds' images${s.groupBy ? ' (whole patients)' : ''}.`,
    '',
    ...foldsMarkdown(s, s.classes),
    '',
  ].join('\n');
}

function summarize(cfg: TrainConfig, dir: string, assign: KFoldAssignment, valRatio: number, runs: RunResult[]): CvSummary {
  const classes = assign.classes;
  const perFoldImages = runs.map((_, i) => foldTestImages(dir, i + 1, classes));
  const perFold: FoldRow[] = runs.map((r, i) => {
    if (!r.test) throw new Error(`${r.dir}: the fold's run has no test metrics`);
    return foldRow(i + 1, `fold-${i + 1}`, r.bestEpoch, r.test, perFoldImages[i]!);
  });
  return {
    version: 1,
    dataset: cfg.data,
    model: cfg.model,
    folds: assign.of,
    groupBy: assign.groupBy,
    seed: assign.seed,
    valRatio,
    classes,
    ...summarizeFolds(perFold, perFoldImages.flat(), classes.length),
  };
}

/** A progress sink that names the fold on every line and epoch event. */
function foldProgress(progress: ProgressSink, k: number, K: number): ProgressSink {
  return {
    status: (t) => progress.status(`fold ${k}/${K}: ${t}`),
    line: (t) => progress.line(`fold ${k}/${K}: ${t}`),
    ...(progress.event ? { event: (e) => progress.event!(e.event === 'epoch' ? { ...e, unit: `fold-${k}` } : e) } : {}),
  };
}

/**
 * K-fold cross-validation of `cfg` into folder `cfg.out` (see the header comment). `cfg.resume`
 * resumes every fold and reuses folds.json; `cfg.force` moves a folder that holds a
 * cross-validation or a run aside as a whole before anything is written.
 */
export async function trainCrossValidation(cfg: TrainConfig, options: CrossValidationOptions): Promise<CrossValidationResult> {
  const { folds: K, signal } = options;
  const progress = options.progress ?? consoleProgress();
  signal?.throwIfAborted();
  checkTrainConfig(cfg);
  if (cfg.resume && cfg.force) throw new Error('resume and force cannot go together: resume keeps the runs in the folder, force replaces them');
  if (cfg.splitFile) throw new Error('splitFile cannot go with folds: the folds make each split');
  if (cfg.valDir || cfg.testDir) throw new Error('valDir/testDir cannot go with folds: the folds make each split');
  if (!cfg.data) throw new Error('give data (the dataset to divide into folds)');
  const valRatio = options.valRatio ?? foldValRatio(cfg.split);
  if (!(valRatio > 0 && valRatio < 1)) throw new Error(`valRatio must be a number between 0 and 1 (both excluded), got ${String(valRatio)}`);
  const dir = resolve(cfg.out);
  const foldsPath = join(dir, 'folds.json');

  // the folder: a cross-validation (or a run) there needs resume or force
  const there = runIn(dir);
  const aside = `(the old folder is moved to ${dir}.replaced-<time>)`;
  if (there && !cfg.resume && !cfg.force)
    throw new FoldsError(`${dir} holds ${there}; set resume to go on with it, or force to start over ${aside}`, `${dir} holds ${there}; give --resume to go on with it, or --force to start over ${aside}`);
  if (cfg.resume && there && !existsSync(foldsPath))
    throw new FoldsError(
      `${dir} holds ${there}, not a cross-validation (no folds.json); write to another out folder, or set force to start over ${aside}`,
      `${dir} holds ${there}, not a cross-validation (no folds.json); give another --out, or --force to start over ${aside}`,
    );

  const data = await loadDataset(cfg.data, { skipBad: cfg.skipBadImages, labelNormalize: cfg.labelNormalize ?? false });
  let assign: KFoldAssignment;
  try {
    assign = kfoldAssign(data.items, { folds: K, seed: cfg.seed, groupBy: cfg.groupBy ?? null, classes: data.classes, dataset: cfg.data });
  } catch (err) {
    throw new FoldsError((err as Error).message, assignFlags((err as Error).message));
  }
  if (cfg.resume && existsSync(foldsPath)) {
    checkSameFolds(foldsPath, readFoldsFile(foldsPath, { classes: data.classes }), assign);
  } else {
    if (cfg.force && runIn(dir)) progress.line(`moved what was in ${dir} to ${moveAside(dir)}`);
    writeFoldsFile(foldsPath, assign);
  }
  progress.line(
    `${K}-fold cross-validation of ${cfg.model} on ${cfg.data}${assign.groupBy ? ' grouped by patient' : ''}: ` +
      describeFolds(assign),
  );

  const runs: RunResult[] = [];
  for (let k = 1; k <= K; k++) {
    signal?.throwIfAborted();
    const splitPath = join(dir, 'splits', `fold-${k}.json`);
    writeSplitFileIfChanged(splitPath, kfoldSplits(assign, k - 1, { valRatio, seed: cfg.seed, ordinal: data.ordinal }));
    const foldCfg: TrainConfig = { ...cfg, splitFile: splitPath, out: join(dir, `fold-${k}`), resume: cfg.resume, force: false };
    runs.push(await trainRun(foldCfg, foldProgress(progress, k, K), { signal }));
  }

  const summary = summarize(cfg, dir, assign, valRatio, runs);
  writeJsonAtomic(join(dir, 'cv.json'), summary);
  writeFileAtomic(join(dir, 'cv.md'), cvMarkdown(summary));
  return { dir, runs, summary };
}
