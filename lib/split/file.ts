// split.json: the exact train/val/test assignment of a run, so a split can be
// inspected, shared and reused (--split-file) instead of recomputed. Reading
// one checks that every file still exists and that the classes match the
// dataset it is used with.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { writeJsonAtomic } from '../util/runfolder.js';
import type { SplitName } from './stratified.js';
import type { ClassRatios } from './group.js';
import { listOffenders, type SkippedEntry } from '../data/problems.js';

export interface SplitEntry {
  file: string;
  label: number;
  group?: string;
}

export interface SplitFile {
  version: 1;
  dataset?: string;
  seed: number;
  ratios: number[];
  remainder: SplitName;
  groupBy: 'patient' | null;
  classes: string[];
  /** The dataset's labels are grades in class order (present only when true). */
  ordinal?: boolean;
  train: SplitEntry[];
  val: SplitEntry[];
  test: SplitEntry[];
  /** Achieved per-class ratios (group split only). */
  achieved?: ClassRatios[];
  /** Entries left out while loading with --skip-bad-images. */
  skipped?: SkippedEntry[];
  /** A k-fold split (kfold.ts): test is fold k (0-based) of `of`. */
  fold?: { k: number; of: number };
}

const SPLITS = ['train', 'val', 'test'] as const;

/** split.ts's default: the remainder is train for 3 ratios, val for 2. */
export const defaultRemainder = (ratios: readonly number[]): SplitName => (ratios.length === 3 ? 'train' : 'val');

/** Only file, label and group go to disk, whatever else the items carry. */
export function toEntries(items: readonly SplitEntry[]): SplitEntry[] {
  return items.map((it) => (it.group !== undefined ? { file: it.file, label: it.label, group: it.group } : { file: it.file, label: it.label }));
}

/** Writes split.json only when its bytes would change (a fold's split made again from the same folds.json). */
export function writeSplitFileIfChanged(path: string, split: SplitFile): void {
  if (!existsSync(path) || readFileSync(path, 'utf8') !== `${JSON.stringify(split, null, 2)}\n`) writeSplitFile(path, split);
}

export function writeSplitFile(path: string, split: SplitFile): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeJsonAtomic(path, split);
}

function checkShape(value: unknown, path: string): SplitFile {
  const o = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const bad = (what: string): Error => new Error(`split file ${path}: ${what}`);
  if (!Array.isArray(o.classes) || !o.classes.every((c) => typeof c === 'string')) throw bad("'classes' must be a list of class names");
  if (!Array.isArray(o.ratios) || !o.ratios.every((r) => typeof r === 'number')) throw bad("'ratios' must be a list of numbers");
  if (typeof o.seed !== 'number') throw bad("'seed' must be a number");
  if (o.ordinal !== undefined && typeof o.ordinal !== 'boolean') throw bad(`'ordinal' must be true or false, got ${JSON.stringify(o.ordinal)}`);
  if (o.fold !== undefined) {
    const f = (typeof o.fold === 'object' && o.fold !== null ? o.fold : {}) as Record<string, unknown>;
    if (!Number.isInteger(f.of) || !Number.isInteger(f.k) || (f.of as number) < 2 || (f.k as number) < 0 || (f.k as number) >= (f.of as number))
      throw bad(`'fold' must be {k, of} with 0 <= k < of and of >= 2, got ${JSON.stringify(o.fold)}`);
  }
  const n = o.classes.length;
  for (const name of SPLITS) {
    const list = o[name];
    if (!Array.isArray(list)) throw bad(`'${name}' must be a list of {file, label}`);
    const wrong = list.findIndex((e: unknown) => {
      const x = e as Record<string, unknown> | null;
      return !x || typeof x.file !== 'string' || !Number.isInteger(x.label) || (x.label as number) < 0 || (x.label as number) >= n;
    });
    if (wrong >= 0) throw bad(`${name}[${wrong}] is not {file, label} with a label in 0..${n - 1}: ${JSON.stringify(list[wrong])}`);
  }
  return o as unknown as SplitFile;
}

function checkFiles(split: SplitFile, path: string): void {
  const where = new Map<string, string>();
  const twice: string[] = [];
  const missing: string[] = [];
  for (const name of SPLITS)
    for (const e of split[name]) {
      if (where.has(e.file)) twice.push(`${e.file} (${where.get(e.file)} and ${name})`);
      where.set(e.file, name);
      if (!existsSync(e.file)) missing.push(`${e.file} (${name})`);
    }
  if (twice.length > 0) throw new Error([`split file ${path}: ${twice.length} file(s) in more than one split:`, ...listOffenders(twice)].join('\n'));
  if (missing.length > 0)
    throw new Error([`split file ${path}: ${missing.length} file(s) no longer exist:`, ...listOffenders(missing), 'Make a new split (thtl-native data split) or restore the files.'].join('\n'));
}

/** Reads split.json, checking its shape, that its files exist and (if given) that its classes match. */
export function readSplitFile(path: string, expected?: { classes?: readonly string[] }): SplitFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read split file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const split = checkShape(parsed, path);
  const want = expected?.classes;
  if (want && (want.length !== split.classes.length || want.some((c, i) => c !== split.classes[i])))
    throw new Error(`split file ${path} has classes [${split.classes.join(', ')}] but the dataset has [${want.join(', ')}]`);
  checkFiles(split, path);
  return split;
}
