// Bootstrap intervals from per-image predictions. Images of one patient move together
// (a cluster bootstrap) when every image has a group; otherwise each image is its own
// cluster. A replicate draws as many clusters as there are, with replacement, from the
// project's seeded PRNG (lib/util/rng.ts), so a seed gives the same interval on every machine.
// Intervals are percentile intervals (numpy's linear interpolation). Replicates in which
// a metric is undefined (AUC with one class drawn) are left out of that metric.
import { argmax, binaryAuc, confusionMatrix, macroOvrAuc } from './metrics.js';
import { Rng } from '../util/rng.js';

/** One image's prediction, as the statistics need it. */
export interface ScoredImage {
  file: string;
  group: string;
  label: number;
  probs: readonly number[];
}

export type Metric = 'accuracy' | 'macroF1' | 'auc';
export const METRICS: readonly Metric[] = ['accuracy', 'macroF1', 'auc'];

export interface BootstrapOptions {
  replicates: number;
  seed: number;
  /** 0.95 for a 95% interval */
  level: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { replicates: 2000, seed: 20240101, level: 0.95 };

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
}

/** Accuracy, macro F1 and AUC (binary: class 1's probability; more classes: macro one-vs-rest) of images `idx`. */
export function metricsOf(images: readonly ScoredImage[], numClasses: number, idx: readonly number[] = images.map((_, i) => i)): Record<Metric, number | null> {
  const labels = idx.map((i) => images[i]!.label);
  const probs = idx.map((i) => images[i]!.probs);
  const predicted = probs.map(argmax);
  const confusion = confusionMatrix(labels, predicted, numClasses);
  let f1 = 0;
  for (let c = 0; c < numClasses; c++) {
    const tp = confusion[c]![c]!;
    const fp = confusion.reduce((s, row, r) => s + (r === c ? 0 : row[c]!), 0);
    const fn = confusion[c]!.reduce((s, v, p) => s + (p === c ? 0 : v), 0);
    f1 += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  const correct = labels.reduce((s, y, i) => s + (y === predicted[i] ? 1 : 0), 0);
  const auc =
    numClasses === 2
      ? binaryAuc(
          labels.map((y) => y === 1),
          probs.map((p) => p[1]!),
        )
      : macroOvrAuc(labels, probs, numClasses);
  return { accuracy: correct / labels.length, macroF1: f1 / numClasses, auc };
}

/** The clusters the bootstrap draws: patients in order of first appearance when every image has one, else single images. */
export function clustersOf(images: readonly ScoredImage[]): { clusters: number[][]; by: 'patient' | 'image' } {
  if (images.length > 0 && images.every((im) => im.group !== '')) {
    const at = new Map<string, number[]>();
    images.forEach((im, i) => {
      const list = at.get(im.group);
      if (list) list.push(i);
      else at.set(im.group, [i]);
    });
    return { clusters: [...at.values()], by: 'patient' };
  }
  return { clusters: images.map((_, i) => [i]), by: 'image' };
}

function resample(clusters: readonly number[][], rng: Rng): number[] {
  const idx: number[] = [];
  for (let k = 0; k < clusters.length; k++) idx.push(...clusters[rng.nextInt(clusters.length)]!);
  return idx;
}

/** numpy.percentile(values, 100 q) with its default linear interpolation; `sorted` ascending. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function interval(estimate: number, values: number[], level: number): Interval {
  values.sort((a, b) => a - b);
  return { estimate, lo: percentile(values, (1 - level) / 2), hi: percentile(values, 1 - (1 - level) / 2) };
}

export interface RunBootstrap {
  by: 'patient' | 'image';
  clusters: number;
  replicates: number;
  intervals: Record<Metric, Interval | null>;
}

/** Bootstrap intervals of one run's accuracy, macro F1 and AUC. */
export function bootstrapRun(images: readonly ScoredImage[], numClasses: number, o: BootstrapOptions = DEFAULT_BOOTSTRAP): RunBootstrap {
  const { clusters, by } = clustersOf(images);
  const rng = new Rng(o.seed);
  const draws: Record<Metric, number[]> = { accuracy: [], macroF1: [], auc: [] };
  for (let r = 0; r < o.replicates; r++) {
    const m = metricsOf(images, numClasses, resample(clusters, rng));
    for (const k of METRICS) if (m[k] !== null) draws[k].push(m[k]!);
  }
  const full = metricsOf(images, numClasses);
  const intervals = Object.fromEntries(METRICS.map((k) => [k, full[k] === null ? null : interval(full[k]!, draws[k], o.level)])) as Record<Metric, Interval | null>;
  return { by, clusters: clusters.length, replicates: o.replicates, intervals };
}

/** Puts `b` in the image order of `a`; both must hold the same images. */
export function alignImages(a: readonly ScoredImage[], b: readonly ScoredImage[], what: string): ScoredImage[] {
  const at = new Map(b.map((im) => [im.file, im]));
  if (at.size !== a.length || b.length !== a.length) throw new Error(`${what}: the two runs were tested on different images (${a.length} and ${b.length})`);
  return a.map((im) => {
    const other = at.get(im.file);
    if (!other) throw new Error(`${what}: ${im.file} is in one run's test predictions only`);
    return other;
  });
}

export interface PairedDifference extends Interval {
  /** share of replicates with a difference on the other side of 0 than the estimate, doubled (two-sided), at most 1 */
  p: number;
}

/**
 * The paired bootstrap of B - A on the same images: each replicate draws one resample of
 * the clusters and applies it to every pair of runs; the difference is the mean over the
 * pairs. One pair: the difference of two runs; the runs of two configurations paired by
 * repetition: the difference of their means, as the tables report them.
 */
export function pairedBootstrap(pairs: readonly { a: readonly ScoredImage[]; b: readonly ScoredImage[] }[], numClasses: number, o: BootstrapOptions = DEFAULT_BOOTSTRAP): Record<Metric, PairedDifference | null> {
  const images = pairs[0]!.a;
  const { clusters } = clustersOf(images);
  const rng = new Rng(o.seed);
  const diff = (idx?: number[]): Record<Metric, number | null> => {
    const sums: Record<Metric, number | null> = { accuracy: 0, macroF1: 0, auc: 0 };
    for (const { a, b } of pairs) {
      const ma = metricsOf(a, numClasses, idx);
      const mb = metricsOf(b, numClasses, idx);
      for (const k of METRICS) sums[k] = sums[k] === null || ma[k] === null || mb[k] === null ? null : sums[k]! + (mb[k]! - ma[k]!) / pairs.length;
    }
    return sums;
  };
  const draws: Record<Metric, number[]> = { accuracy: [], macroF1: [], auc: [] };
  for (let r = 0; r < o.replicates; r++) {
    const d = diff(resample(clusters, rng));
    for (const k of METRICS) if (d[k] !== null) draws[k].push(d[k]!);
  }
  const full = diff();
  return Object.fromEntries(
    METRICS.map((k) => {
      const est = full[k];
      if (est === null || draws[k].length === 0) return [k, null];
      const below = draws[k].filter((x) => x <= 0).length / draws[k].length;
      const above = draws[k].filter((x) => x >= 0).length / draws[k].length;
      return [k, { ...interval(est, draws[k], o.level), p: Math.min(1, 2 * Math.min(below, above)) }];
    }),
  ) as Record<Metric, PairedDifference | null>;
}
