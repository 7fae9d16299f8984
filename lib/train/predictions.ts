// predictions.csv of a run folder: every validation and test image with its group (the
// patient, when known), true label, the probability of each class at the best epoch and
// the predicted label. The report's statistics (lib/stats) are computed from it.
import { existsSync, readFileSync } from 'node:fs';

import type { EvalResult } from '../../binding/session.js';
import type { SplitEntry } from '../data/split-file.js';
import { argmax } from '../metrics.js';

export interface Prediction {
  split: 'val' | 'test';
  file: string;
  /** the patient (or other group) of the image; '' when the dataset has none */
  group: string;
  /** class index */
  label: number;
  probs: number[];
  predicted: number;
}

/** The rows of one evaluated split (images that failed to decode are not among them). */
export function predictionRows(split: Prediction['split'], entries: readonly SplitEntry[], r: EvalResult, classes: readonly string[]): Prediction[] {
  const rows: Prediction[] = [];
  for (let i = 0; i < r.n; i++) {
    const e = entries[r.indices[i]!]!;
    const probs = Array.from(r.probs.subarray(i * classes.length, (i + 1) * classes.length), (p) => Number(p.toPrecision(9)));
    rows.push({ split, file: e.file, group: e.group ?? '', label: r.labels[i]!, probs, predicted: argmax(probs) });
  }
  return rows;
}

function field(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function predictionsCsv(classes: readonly string[], rows: readonly Prediction[]): string {
  const head = ['split', 'file', 'group', 'label', ...classes.map((c) => `prob_${c}`), 'predicted'];
  const lines = rows.map((r) => [r.split, field(r.file), field(r.group), field(classes[r.label]!), ...r.probs.map(String), field(classes[r.predicted]!)].join(','));
  return `${[head.map(field).join(','), ...lines].join('\n')}\n`;
}

/** Splits one CSV line (RFC 4180 quoting). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Reads a run's predictions.csv; `classes` are the run's (final.json), in order. Errors name the file and line. */
export function readPredictions(path: string, classes: readonly string[]): Prediction[] {
  if (!existsSync(path)) throw new Error(`${path} does not exist: the run was made before predictions were kept; run it again to get them`);
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const head = splitCsvLine(lines[0] ?? '');
  const want = ['split', 'file', 'group', 'label', ...classes.map((c) => `prob_${c}`), 'predicted'];
  if (head.join(',') !== want.join(',')) throw new Error(`${path}: the header is ${head.join(',')}, expected ${want.join(',')}`);
  const index = new Map(classes.map((c, i) => [c, i]));
  return lines.slice(1).map((line, i) => {
    const f = splitCsvLine(line);
    const label = index.get(f[3]!);
    const predicted = index.get(f[f.length - 1]!);
    const probs = f.slice(4, 4 + classes.length).map(Number);
    if (f.length !== want.length || label === undefined || predicted === undefined || (f[0] !== 'val' && f[0] !== 'test') || probs.some((p) => !Number.isFinite(p)))
      throw new Error(`${path}: line ${i + 2} is not a prediction row (${line.slice(0, 80)})`);
    return { split: f[0], file: f[1]!, group: f[2]!, label, probs, predicted };
  });
}
