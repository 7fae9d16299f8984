// predictions.csv of a run folder: every validation and test image with its group (the
// patient, when known), true label, the probability of each class at the best epoch and
// the predicted label. The report's statistics (lib/stats) are computed from it.
import { existsSync, readFileSync } from 'node:fs';

import type { EvalResult } from '../../binding/session.js';
import { csvCell, parseCsv } from '../data/csv.js';
import type { SplitEntry } from '../split/file.js';
import { argmax } from '../stats/metrics.js';

export interface Prediction {
  /** 'val' / 'test' in a run's file; an evaluation's rows (thtl-native evaluate) say 'eval' or the split file's part */
  split: 'val' | 'test' | 'train' | 'eval';
  file: string;
  /** the patient (or other group) of the image; '' when the dataset has none */
  group: string;
  /** class index */
  label: number;
  probs: number[];
  predicted: number;
}

/** A probability as the CSVs keep it: 9 significant digits (a float32 softmax's precision). */
export const csvProb = (p: number): number => Number(p.toPrecision(9));

/** The probabilities of an evaluation, one row per image. */
export function probRows(r: EvalResult): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < r.n; i++) rows.push(Array.from(r.probs.subarray(i * r.numClasses, (i + 1) * r.numClasses)));
  return rows;
}

/**
 * The rows of one evaluated split (images that failed to decode are not among them);
 * `probs`: the probabilities to keep, one row per evaluated image (default: the evaluation's own).
 */
export function predictionRows(split: Prediction['split'], entries: readonly SplitEntry[], r: EvalResult, classes: readonly string[], probs: readonly (readonly number[])[] = probRows(r)): Prediction[] {
  return probs.map((row, i) => {
    const e = entries[r.indices[i]!]!;
    const p = row.map(csvProb);
    return { split, file: e.file, group: e.group ?? '', label: r.labels[i]!, probs: p, predicted: argmax(p) };
  });
}

/** The CSV of `rows`; `extra`: columns after predicted with one value on every row (an evaluation's tta). */
export function predictionsCsv(classes: readonly string[], rows: readonly Prediction[], extra: Readonly<Record<string, string>> = {}): string {
  const more = Object.entries(extra);
  const head = ['split', 'file', 'group', 'label', ...classes.map((c) => `prob_${c}`), 'predicted', ...more.map(([k]) => k)];
  const lines = rows.map((r) => [r.split, r.file, r.group, classes[r.label]!, ...r.probs, classes[r.predicted]!, ...more.map(([, v]) => v)].map(csvCell).join(','));
  return `${[head.map(csvCell).join(','), ...lines].join('\n')}\n`;
}

/** Reads a run's predictions.csv; `classes` are the run's (final.json), in order. Errors name the file and line. */
export function readPredictions(path: string, classes: readonly string[]): Prediction[] {
  if (!existsSync(path)) throw new Error(`${path} does not exist: the run was made before predictions were kept; run it again to get them`);
  // records (a blank line parses as ['']); record i is line i + 1 of the file
  const records = parseCsv(readFileSync(path, 'utf8'), ',')
    .map((fields, i) => ({ fields, line: i + 1 }))
    .filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
  const head = records[0]?.fields ?? [];
  const want = ['split', 'file', 'group', 'label', ...classes.map((c) => `prob_${c}`), 'predicted'];
  if (head.join(',') !== want.join(',')) throw new Error(`${path}: the header is ${head.join(',')}, expected ${want.join(',')}`);
  const index = new Map(classes.map((c, i) => [c, i]));
  return records.slice(1).map(({ fields: f, line }) => {
    const label = index.get(f[3]!);
    const predicted = index.get(f[f.length - 1]!);
    const probs = f.slice(4, 4 + classes.length).map(Number);
    if (f.length !== want.length || label === undefined || predicted === undefined || (f[0] !== 'val' && f[0] !== 'test') || probs.some((p) => !Number.isFinite(p)))
      throw new Error(`${path}: line ${line} is not a prediction row (${f.join(',').slice(0, 80)})`);
    return { split: f[0], file: f[1]!, group: f[2]!, label, probs, predicted };
  });
}
