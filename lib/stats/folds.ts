// What a k-fold cross-validation reports, whoever ran the folds (`train --folds`, or a
// study with folds): each fold's test metrics, their mean and sample standard deviation,
// and the pooled out-of-fold test predictions (every image once, each predicted by the
// model that did not train on it) with bootstrap intervals (by patient where there are
// patients) and the top-label ECE. Pure: the callers read the predictions.
import { bootstrapRun, DEFAULT_BOOTSTRAP, type Interval, type ScoredImage } from './bootstrap.js';
import { calibrationError } from './calibration.js';

/** One fold's row. */
export interface FoldRow {
  /** 1-based */
  fold: number;
  /** its run folder (relative to the cross-validation or study folder) */
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
export const CV_METRICS: readonly CvMetric[] = ['accuracy', 'auc', 'macroF1'];

/** The folds' summary: per-fold rows, mean ± std over folds, pooled out-of-fold metrics. */
export interface FoldsSummary {
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

const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
function sampleStd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs)!;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** The summary of `perFold` (fold order) and their pooled test predictions `images` (at least one). */
export function summarizeFolds(perFold: FoldRow[], images: readonly ScoredImage[], numClasses: number): FoldsSummary {
  if (images.length === 0) throw new Error('summarizeFolds: no out-of-fold test predictions');
  const values = (k: CvMetric): number[] => perFold.flatMap((f) => (f[k] === null ? [] : [f[k]!]));
  const boot = bootstrapRun(images, numClasses, DEFAULT_BOOTSTRAP);
  const patients = new Set(images.map((im) => im.group).filter((g) => g !== ''));
  return {
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

const fixed = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** "0.9000 ± 0.0100" (or n/a) of a metric over the folds. */
export function foldMeanStd(s: Pick<FoldsSummary, 'mean' | 'std'>, k: CvMetric): string {
  return s.mean[k] === null ? 'n/a' : `${fixed(s.mean[k])} ± ${fixed(s.std[k])}`;
}

/** "0.9000 [0.8500, 0.9400]" (or n/a) of a pooled interval. */
export function intervalText(i: Interval | null): string {
  return i ? `${fixed(i.estimate)} [${fixed(i.lo)}, ${fixed(i.hi)}]` : 'n/a';
}

/**
 * Markdown of a summary: the per-fold table with its mean ± std row, a line on the pooled
 * predictions and their bootstrap, and the pooled metrics table.
 */
export function foldsMarkdown(s: FoldsSummary, classes: readonly string[]): string[] {
  const b = s.pooled.bootstrap;
  const binary = classes.length === 2;
  return [
    `| fold | images | patients | best epoch | accuracy | AUC${binary ? '' : ' (macro OvR)'} | macro F1 |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...s.perFold.map((f) => `| ${f.fold} | ${f.images} | ${f.patients ?? 'n/a'} | ${f.bestEpoch} | ${fixed(f.accuracy)} | ${fixed(f.auc)} | ${fixed(f.macroF1)} |`),
    `| mean ± std | | | | ${foldMeanStd(s, 'accuracy')} | ${foldMeanStd(s, 'auc')} | ${foldMeanStd(s, 'macroF1')} |`,
    '',
    `Pooled out-of-fold test predictions (every image once): ${s.pooled.n} images${s.pooled.patients !== null ? `, ${s.pooled.patients} patients` : ''}. ` +
      `95% intervals: percentile bootstrap, ${b.replicates} replicates over ${b.clusters} ${b.by === 'patient' ? 'patients (images of one patient move together)' : 'images'}.`,
    '',
    '| metric | value [95% interval] |',
    '|---|---|',
    `| accuracy | ${intervalText(s.pooled.accuracy)} |`,
    `| AUC${binary ? ` (${classes[1]} vs ${classes[0]})` : ' (macro one-vs-rest)'} | ${intervalText(s.pooled.auc)} |`,
    `| macro F1 | ${intervalText(s.pooled.macroF1)} |`,
    `| ECE (15 bins, top label) | ${fixed(s.pooled.ece)} |`,
  ];
}

/** A fold's row from its run's test metrics and its test images (for the patient count). */
export function foldRow(
  fold: number,
  dir: string,
  bestEpoch: number,
  test: { n: number; accuracy: number; auc: number | null; macro: { f1: number } },
  images: readonly ScoredImage[],
): FoldRow {
  const groups = new Set(images.map((im) => im.group).filter((g) => g !== ''));
  return { fold, dir, images: test.n, patients: groups.size > 0 ? groups.size : null, bestEpoch, accuracy: test.accuracy, auc: test.auc, macroF1: test.macro.f1 };
}
