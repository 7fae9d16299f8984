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
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { loadDataset } from '../data/dataset.js';
import { writeSplitFile } from '../split/file.js';
import { kfoldAssign, kfoldSplits, readFoldsFile, writeFoldsFile, type KFoldAssignment } from '../split/kfold.js';
import type { GroupSplitItem } from '../split/group.js';
import { bootstrapRun, DEFAULT_BOOTSTRAP, type Interval, type ScoredImage } from '../stats/bootstrap.js';
import { calibrationError } from '../stats/calibration.js';
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

/** One fold's row of cv.json. */
export interface FoldRow {
  /** 1-based */
  fold: number;
  /** its run folder, relative to the cross-validation folder */
  dir: string;
  /** test images */
  images: number;
  /** test patients; null when the data has none */
  patients: number | null;
  bestEpoch: number;
  accuracy: number;
  auc: number | null;
  macroF1: number;
}

export type CvMetric = 'accuracy' | 'auc' | 'macroF1';
const CV_METRICS: readonly CvMetric[] = ['accuracy', 'auc', 'macroF1'];

/** cv.json. */
export interface CvSummary {
  version: 1;
  dataset: string;
  model: string;
  folds: number;
  groupBy: 'patient' | null;
  seed: number;
  valRatio: number;
  classes: string[];
  perFold: FoldRow[];
  /** mean over the folds (null where no fold has the metric) */
  mean: Record<CvMetric, number | null>;
  /** sample standard deviation over the folds (n - 1; null with fewer than two) */
  std: Record<CvMetric, number | null>;
  /** the out-of-fold test predictions of every fold together: every image once */
  pooled: {
    n: number;
    patients: number | null;
    accuracy: Interval;
    auc: Interval | null;
    macroF1: Interval;
    /** top-label expected calibration error (15 equal-width bins) */
    ece: number;
    bootstrap: { by: 'patient' | 'image'; clusters: number; replicates: number; level: number; seed: number };
  };
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

/** The default validation share of the training folds: the val ratio of `split` relative to train + val. */
export function foldValRatio(split: readonly number[]): number {
  return split[1]! / (split[0]! + split[1]!);
}

const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
function sampleStd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs)!;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

const sameItem = (a: GroupSplitItem, b: GroupSplitItem): boolean => a.file === b.file && a.label === b.label && (a.group ?? '') === (b.group ?? '');

/** Refuses a folds.json made with other settings or another dataset, naming what differs. */
function checkSameFolds(path: string, stored: KFoldAssignment, now: KFoldAssignment): void {
  const diff: string[] = [];
  if (stored.of !== now.of) diff.push(`folds: it has ${stored.of}, this one ${now.of}`);
  if (stored.seed !== now.seed) diff.push(`seed: it has ${stored.seed}, this one ${now.seed}`);
  if (stored.groupBy !== now.groupBy) diff.push(`groupBy: it has ${stored.groupBy ?? 'none'}, this one ${now.groupBy ?? 'none'}`);
  if (diff.length === 0) {
    const at = new Map(stored.items.map((it, i) => [resolve(it.file), i]));
    const missing = now.items.find((it) => !at.has(resolve(it.file)));
    const changed = now.items.find((it, i) => {
      const j = at.get(resolve(it.file));
      return j !== undefined && (!sameItem({ ...stored.items[j]!, file: it.file }, it) || stored.folds[j] !== now.folds[i]);
    });
    if (stored.items.length !== now.items.length) diff.push(`the dataset: it has ${stored.items.length} images, this one ${now.items.length}`);
    else if (missing) diff.push(`the dataset: ${missing.file} is not in it`);
    else if (changed) diff.push(`the dataset: ${changed.file} has another label, patient or fold in it`);
  }
  if (diff.length > 0) {
    const flags = (d: string): string => d.replace(/^(folds|seed): /, '--$1: ').replace(/^groupBy: /, '--group-by: ').replace(/^the dataset: /, '--data: ');
    throw new FoldsError(
      `${path} was made with other settings: ${diff.join('; ')}; write to another out folder, or set force to start over`,
      `${path} was made with other settings: ${diff.map(flags).join('; ')}; give another --out, or --force to start over`,
    );
  }
}

/** Every fold's test rows of predictions.csv, in fold order: each image once. */
function pooledPredictions(dir: string, K: number, classes: readonly string[]): ScoredImage[] {
  const images: ScoredImage[] = [];
  for (let k = 1; k <= K; k++)
    for (const p of readPredictions(join(dir, `fold-${k}`, 'predictions.csv'), classes))
      if (p.split === 'test') images.push({ file: p.file, group: p.group, label: p.label, probs: p.probs });
  return images;
}

const fixed = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** cv.md: the per-fold table with mean ± std, then the pooled out-of-fold metrics. */
export function cvMarkdown(s: CvSummary): string {
  const pm = (k: CvMetric): string => (s.mean[k] === null ? 'n/a' : `${fixed(s.mean[k])} ± ${fixed(s.std[k])}`);
  const iv = (i: Interval | null): string => (i ? `${fixed(i.estimate)} [${fixed(i.lo)}, ${fixed(i.hi)}]` : 'n/a');
  const b = s.pooled.bootstrap;
  const binary = s.classes.length === 2;
  return [
    `# Cross-validation: ${s.model}, ${s.folds} folds${s.groupBy ? ' grouped by patient' : ' by image'}`,
    '',
    `Dataset: ${s.dataset}. Classes: ${s.classes.join(', ')}. Folds: folds.json (seed ${s.seed}); each fold's run in fold-k/, ` +
      `tested on fold k, validated on ${fixed(s.valRatio * 100, 1)}% of the other folds' images${s.groupBy ? ' (whole patients)' : ''}.`,
    '',
    `| fold | images | patients | best epoch | accuracy | AUC${binary ? '' : ' (macro OvR)'} | macro F1 |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...s.perFold.map((f) => `| ${f.fold} | ${f.images} | ${f.patients ?? 'n/a'} | ${f.bestEpoch} | ${fixed(f.accuracy)} | ${fixed(f.auc)} | ${fixed(f.macroF1)} |`),
    `| mean ± std | | | | ${pm('accuracy')} | ${pm('auc')} | ${pm('macroF1')} |`,
    '',
    `Pooled out-of-fold test predictions (every image once): ${s.pooled.n} images${s.pooled.patients !== null ? `, ${s.pooled.patients} patients` : ''}. ` +
      `95% intervals: percentile bootstrap, ${b.replicates} replicates over ${b.clusters} ${b.by === 'patient' ? 'patients (images of one patient move together)' : 'images'}.`,
    '',
    '| metric | value [95% interval] |',
    '|---|---|',
    `| accuracy | ${iv(s.pooled.accuracy)} |`,
    `| AUC${binary ? ` (${s.classes[1]} vs ${s.classes[0]})` : ' (macro one-vs-rest)'} | ${iv(s.pooled.auc)} |`,
    `| macro F1 | ${iv(s.pooled.macroF1)} |`,
    `| ECE (15 bins, top label) | ${fixed(s.pooled.ece)} |`,
    '',
  ].join('\n');
}

function summarize(cfg: TrainConfig, dir: string, assign: KFoldAssignment, valRatio: number, runs: RunResult[]): CvSummary {
  const K = assign.of;
  const classes = assign.classes;
  const perFold: FoldRow[] = runs.map((r, i) => {
    const test = assign.items.filter((_, j) => assign.folds[j] === i);
    const groups = new Set(test.map((it) => it.group ?? '').filter((g) => g !== ''));
    if (!r.test) throw new Error(`${r.dir}: the fold's run has no test metrics`);
    return {
      fold: i + 1,
      dir: `fold-${i + 1}`,
      images: r.test.n,
      patients: groups.size > 0 ? groups.size : null,
      bestEpoch: r.bestEpoch,
      accuracy: r.test.accuracy,
      auc: r.test.auc,
      macroF1: r.test.macro.f1,
    };
  });
  const values = (k: CvMetric): number[] => perFold.flatMap((f) => (f[k] === null ? [] : [f[k]!]));
  const images = pooledPredictions(dir, K, classes);
  const boot = bootstrapRun(images, classes.length, DEFAULT_BOOTSTRAP);
  const patients = new Set(images.map((im) => im.group).filter((g) => g !== ''));
  return {
    version: 1,
    dataset: cfg.data,
    model: cfg.model,
    folds: K,
    groupBy: assign.groupBy,
    seed: assign.seed,
    valRatio,
    classes,
    perFold,
    mean: Object.fromEntries(CV_METRICS.map((k) => [k, mean(values(k))])) as Record<CvMetric, number | null>,
    std: Object.fromEntries(CV_METRICS.map((k) => [k, sampleStd(values(k))])) as Record<CvMetric, number | null>,
    pooled: {
      n: images.length,
      patients: patients.size > 0 ? patients.size : null,
      accuracy: boot.intervals.accuracy!,
      auc: boot.intervals.auc,
      macroF1: boot.intervals.macroF1!,
      ece: calibrationError(
        images.map((im) => im.probs),
        images.map((im) => im.label),
        { norm: 'l1' },
      ),
      bootstrap: { by: boot.by, clusters: boot.clusters, replicates: boot.replicates, level: DEFAULT_BOOTSTRAP.level, seed: DEFAULT_BOOTSTRAP.seed },
    },
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
      assign.perFold.map((f, k) => `fold ${k + 1} ${f.images} images${assign.groupBy ? ` (${f.groups} patients)` : ''}`).join(', '),
  );

  const runs: RunResult[] = [];
  for (let k = 1; k <= K; k++) {
    signal?.throwIfAborted();
    const splitPath = join(dir, 'splits', `fold-${k}.json`);
    const split = { ...kfoldSplits(assign, k - 1, { valRatio, seed: cfg.seed }), ...(data.ordinal ? { ordinal: true } : {}) };
    const text = `${JSON.stringify(split, null, 2)}\n`;
    if (!existsSync(splitPath) || readFileSync(splitPath, 'utf8') !== text) writeSplitFile(splitPath, split);
    const foldCfg: TrainConfig = { ...cfg, splitFile: splitPath, out: join(dir, `fold-${k}`), resume: cfg.resume, force: false };
    runs.push(await trainRun(foldCfg, foldProgress(progress, k, K), { signal }));
  }

  const summary = summarize(cfg, dir, assign, valRatio, runs);
  writeJsonAtomic(join(dir, 'cv.json'), summary);
  writeFileAtomic(join(dir, 'cv.md'), cvMarkdown(summary));
  return { dir, runs, summary };
}
