// k-fold cross-validation: every image gets one of K folds, fold k is the test set of the
// k-th split, and the other folds give that split's train and validation sets. The
// assignment is made once per study (folds.json) and reused by every model and protocol.
// Rule, deterministic for a seed and independent of the input order:
//   - by image (no groupBy): per class (ascending label), images sorted by file and
//     shuffled with one seeded Rng, then dealt round-robin, each class continuing at the
//     fold where the previous one stopped (so fold sizes differ by at most one image and
//     each class's count per fold by at most one);
//   - by patient (groupBy 'patient'): a patient's images stay in one fold. Patients are
//     shuffled with the seed, then taken largest first (a stable sort, so the shuffle
//     breaks ties between equal sizes); each goes to the fold where it adds least to
//     sum over classes of (count - target)^2 / target, target = class total / K, i.e. the
//     fold whose counts of the patient's classes are furthest below their targets; folds
//     with equal cost are chosen between with the same Rng. Items without a group are
//     their own group.
// The train/val division of the other folds reuses groupSplit / stratifiedSplit.
// Errors name the options (folds, valRatio ...); a command line names its flags.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { Rng } from '../util/rng.js';
import { writeJsonAtomic } from '../util/runfolder.js';
import { toEntries, type SplitEntry, type SplitFile } from './file.js';
import { type ClassRatios, type GroupSplitItem, groupSplit } from './group.js';
import { DEFAULT_SPLIT_SEED, type SplitName, stratifiedSplit } from './stratified.js';

export interface KFoldOptions {
  /** Number of folds K, 2 .. number of groups. */
  folds: number;
  /** Default 123. */
  seed?: number;
  /** 'patient': no patient in two folds. */
  groupBy?: 'patient' | null;
  /** Class names (index = label), for messages and the split files; default '0', '1', ... */
  classes?: readonly string[];
  /** The dataset's name or folder, copied into folds.json and the split files. */
  dataset?: string;
}

export interface FoldStats {
  images: number;
  /** Patients in the fold (grouped); images otherwise (each image is its own unit). */
  groups: number;
  /** Images per label. */
  classCounts: number[];
}

export interface KFoldAssignment<T extends GroupSplitItem = GroupSplitItem> {
  /** The items as given. */
  items: T[];
  /** Fold (0 .. of-1) of items[i]. */
  folds: number[];
  /** K. */
  of: number;
  seed: number;
  groupBy: 'patient' | null;
  classes: string[];
  dataset?: string;
  perFold: FoldStats[];
  /** achieved[f][label]: share of fold f's images that have the label. */
  achieved: number[][];
  /** whole[label]: share of all images that have the label. */
  whole: number[];
  /** Largest |achieved[f][label] - whole[label]|. */
  maxDeviation: number;
}

export interface KFoldSplitOptions {
  /** Share of the training folds' images that go to validation, 0 < valRatio < 1. */
  valRatio: number;
  /** Seed of the train/val division; default the assignment's seed. */
  seed?: number;
  /** the dataset's labels are grades (the split file's `ordinal`) */
  ordinal?: boolean;
}

/** The default validation share of the training folds: the val ratio of train,val,test `ratios` relative to train + val. */
export function foldValRatio(ratios: readonly number[]): number {
  return ratios[1]! / (ratios[0]! + ratios[1]!);
}

/** "fold 1 100 images (20 patients), fold 2 ...": the folds of an assignment, for a progress line. */
export function describeFolds(assign: KFoldAssignment): string {
  return assign.perFold.map((f, k) => `fold ${k + 1} ${f.images} images${assign.groupBy ? ` (${f.groups} patients)` : ''}`).join(', ');
}

/** folds.json. */
export interface FoldsFile {
  version: 1;
  dataset?: string;
  seed: number;
  /** K. */
  of: number;
  groupBy: 'patient' | null;
  classes: string[];
  /** For reading by eye; recomputed from `items` on read. */
  perFold: FoldStats[];
  achieved: number[][];
  items: (SplitEntry & { fold: number })[];
}

const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
// NUL cannot appear in a patient id read from a sheet, so ungrouped keys never collide.
const groupKey = (it: GroupSplitItem, grouped: boolean): string => (grouped && it.group !== undefined ? it.group : `\u0000${it.file}`);

function checkOptions(o: KFoldOptions): void {
  if (!Number.isInteger(o.folds) || o.folds < 2) throw new Error(`folds must be an integer of at least 2, got ${String(o.folds)}`);
  if (o.seed !== undefined && !Number.isFinite(o.seed)) throw new Error(`seed must be a finite number, got ${String(o.seed)}`);
  if (o.groupBy !== undefined && o.groupBy !== null && o.groupBy !== 'patient') throw new Error(`groupBy must be 'patient' or left out, got '${String(o.groupBy)}'`);
}

function checkItems(items: readonly GroupSplitItem[], classes: readonly string[] | undefined): void {
  const seen = new Set<string>();
  for (const it of items) {
    if (typeof it.file !== 'string') throw new Error(`k-fold item has no file name: ${JSON.stringify(it)}`);
    if (!Number.isInteger(it.label) || it.label < 0 || (classes && it.label >= classes.length))
      throw new Error(`k-fold item '${it.file}' has invalid label ${it.label}${classes ? ` (classes are 0..${classes.length - 1})` : ''}`);
    if (seen.has(it.file)) throw new Error(`duplicate file in k-fold input: '${it.file}'`);
    seen.add(it.file);
  }
}

/** Refuses folds above the number of groups and classes found in fewer groups than folds. */
function checkCounts(items: readonly GroupSplitItem[], K: number, grouped: boolean, classes: readonly string[]): void {
  const unit = grouped ? 'patient' : 'image';
  const groups = new Set(items.map((it) => groupKey(it, grouped)));
  if (K > groups.size)
    throw new Error(`folds is ${K} but the data has ${plural(groups.size, unit)}; folds must be between 2 and the number of ${unit}s (${groups.size})`);
  const per = classes.map(() => new Set<string>());
  for (const it of items) per[it.label]!.add(groupKey(it, grouped));
  const small = classes.map((name, label) => ({ name, n: per[label]!.size })).filter((c) => c.n < K);
  if (small.length === 0) return;
  const list = small.map((c) => `'${c.name}' (${plural(c.n, unit)})`).join(', ');
  const what = small.length === 1 ? `class ${list} has` : `classes ${list} have`;
  throw new Error(`${what} fewer ${unit}s than folds (${K}), so a fold would miss ${small.length === 1 ? 'it' : 'them'}; lower folds, add ${unit}s or drop ${small.length === 1 ? 'the class' : 'those classes'}`);
}

interface Unit {
  key: string;
  /** Indices into the input items. */
  members: number[];
  counts: Map<number, number>;
  size: number;
}

function buildUnits(items: readonly GroupSplitItem[], grouped: boolean): Unit[] {
  const map = new Map<string, number[]>();
  items.forEach((it, i) => {
    const key = groupKey(it, grouped);
    const list = map.get(key);
    if (list) list.push(i);
    else map.set(key, [i]);
  });
  return [...map.keys()].sort(byCode).map((key) => {
    const members = map.get(key)!;
    const counts = new Map<number, number>();
    for (const i of members) counts.set(items[i]!.label, (counts.get(items[i]!.label) ?? 0) + 1);
    return { key, members, counts, size: members.length };
  });
}

/** By image: per class shuffled and dealt round-robin, continuing across classes. */
function dealByImage(items: readonly GroupSplitItem[], K: number, numClasses: number, rng: Rng): number[] {
  const folds = new Array<number>(items.length).fill(-1);
  const byLabel: number[][] = Array.from({ length: numClasses }, () => []);
  items.forEach((it, i) => byLabel[it.label]!.push(i));
  let next = 0;
  for (const list of byLabel) {
    for (const i of rng.shuffle(list.sort((a, b) => byCode(items[a]!.file, items[b]!.file)))) {
      folds[i] = next;
      next = (next + 1) % K;
    }
  }
  return folds;
}

/** By patient: largest first, to the fold where it adds least to the chi-square-like distance. */
function dealByGroup(items: readonly GroupSplitItem[], K: number, numClasses: number, rng: Rng): number[] {
  const units = rng.shuffle(buildUnits(items, true));
  units.sort((a, b) => b.size - a.size); // stable: the shuffle breaks ties
  const totals = new Array<number>(numClasses).fill(0);
  for (const it of items) totals[it.label]! += 1;
  const want = totals.map((n) => n / K);
  const have = Array.from({ length: K }, () => new Array<number>(numClasses).fill(0));
  const folds = new Array<number>(items.length).fill(-1);
  for (const u of units) {
    let best: number[] = [];
    let bestCost = Infinity;
    for (let f = 0; f < K; f++) {
      let cost = 0;
      for (const [label, n] of u.counts) cost += (n * (2 * (have[f]![label]! - want[label]!) + n)) / want[label]!;
      if (cost < bestCost - 1e-9) {
        best = [f];
        bestCost = cost;
      } else if (cost <= bestCost + 1e-9) best.push(f);
    }
    const fold = best.length === 1 ? best[0]! : best[rng.nextInt(best.length)]!;
    for (const [label, n] of u.counts) have[fold]![label]! += n;
    for (const i of u.members) folds[i] = fold;
  }
  return folds;
}

function summarize(items: readonly GroupSplitItem[], folds: readonly number[], K: number, numClasses: number, grouped: boolean) {
  const perFold: FoldStats[] = Array.from({ length: K }, () => ({ images: 0, groups: 0, classCounts: new Array<number>(numClasses).fill(0) }));
  const keys = Array.from({ length: K }, () => new Set<string>());
  const totals = new Array<number>(numClasses).fill(0);
  items.forEach((it, i) => {
    const f = perFold[folds[i]!]!;
    f.images += 1;
    f.classCounts[it.label]! += 1;
    keys[folds[i]!]!.add(groupKey(it, grouped));
    totals[it.label]! += 1;
  });
  perFold.forEach((f, k) => (f.groups = keys[k]!.size));
  const whole = totals.map((n) => n / items.length);
  const achieved = perFold.map((f) => f.classCounts.map((n) => (f.images > 0 ? n / f.images : 0)));
  let maxDeviation = 0;
  for (const row of achieved) row.forEach((r, label) => (maxDeviation = Math.max(maxDeviation, Math.abs(r - whole[label]!))));
  return { perFold, achieved, whole, maxDeviation };
}

/** Assigns every item a fold (see the header comment); refuses folds < 2, folds > groups and classes in fewer groups than folds. */
export function kfoldAssign<T extends GroupSplitItem>(items: readonly T[], options: KFoldOptions): KFoldAssignment<T> {
  checkOptions(options);
  checkItems(items, options.classes);
  const K = options.folds;
  const grouped = options.groupBy === 'patient';
  const numClasses = options.classes?.length ?? items.reduce((m, it) => Math.max(m, it.label + 1), 0);
  const classes = options.classes ? [...options.classes] : Array.from({ length: numClasses }, (_, i) => String(i));
  checkCounts(items, K, grouped, classes);
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  const rng = new Rng(seed);
  const folds = grouped ? dealByGroup(items, K, numClasses, rng) : dealByImage(items, K, numClasses, rng);
  const stats = summarize(items, folds, K, numClasses, grouped);
  // The greedy cannot always give every fold every class when a patient has several classes.
  stats.perFold.forEach((f, k) => {
    const missing = f.classCounts.flatMap((n, label) => (n === 0 ? [`'${classes[label]}'`] : []));
    if (missing.length > 0)
      throw new Error(`fold ${k} of ${K} has no images of class ${missing.join(', ')} (patients with several classes); lower folds or change the seed`);
  });
  return {
    items: [...items],
    folds,
    of: K,
    seed,
    groupBy: grouped ? 'patient' : null,
    classes,
    ...(options.dataset !== undefined ? { dataset: options.dataset } : {}),
    ...stats,
  };
}

function classRatios(parts: Record<SplitName, readonly SplitEntry[]>, numClasses: number): ClassRatios[] {
  const out: ClassRatios[] = Array.from({ length: numClasses }, (_, label) => ({
    label,
    total: 0,
    counts: { train: 0, val: 0, test: 0 },
    ratios: { train: 0, val: 0, test: 0 },
  }));
  for (const name of ['train', 'val', 'test'] as const) for (const e of parts[name]) out[e.label]!.counts[name] += 1;
  for (const c of out) {
    c.total = c.counts.train + c.counts.val + c.counts.test;
    if (c.total > 0) c.ratios = { train: c.counts.train / c.total, val: c.counts.val / c.total, test: c.counts.test / c.total };
  }
  return out;
}

/**
 * Split k of an assignment as a split file: test = fold k; validation = valRatio of the
 * other folds (stratified; grouped by patient when the assignment is); train = the rest.
 */
export function kfoldSplits<T extends GroupSplitItem>(assign: KFoldAssignment<T>, k: number, options: KFoldSplitOptions): SplitFile {
  const K = assign.of;
  if (!Number.isInteger(k) || k < 0 || k >= K) throw new Error(`fold must be an integer in 0..${K - 1}, got ${String(k)}`);
  const v = options.valRatio;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 1) throw new Error(`valRatio must be a number between 0 and 1 (both excluded), got ${String(v)}`);
  const seed = options.seed ?? assign.seed;
  const test: T[] = [];
  const rest: T[] = [];
  assign.items.forEach((it, i) => (assign.folds[i] === k ? test : rest).push(it));
  const parts = { ratios: [1 - v, v], seed };
  const divided = assign.groupBy === 'patient' ? groupSplit(rest, parts) : stratifiedSplit(rest, parts);
  for (const name of ['train', 'val'] as const)
    if (divided[name].length === 0)
      throw new Error(`the ${name} part of fold ${k} of ${K} is empty (${rest.length} images outside the test fold, valRatio ${v}); change valRatio or add images`);
  const out = {
    train: toEntries(divided.train),
    val: toEntries(divided.val),
    test: toEntries([...test].sort((a, b) => byCode(a.file, b.file))),
  };
  const rest1 = (K - 1) / K;
  return {
    version: 1,
    ...(assign.dataset !== undefined ? { dataset: assign.dataset } : {}),
    seed,
    ratios: [rest1 * (1 - v), rest1 * v, 1 / K],
    remainder: 'val',
    groupBy: assign.groupBy,
    classes: [...assign.classes],
    ...out,
    ...(assign.groupBy === 'patient' ? { achieved: classRatios(out, assign.classes.length) } : {}),
    fold: { k, of: K },
    ...(options.ordinal ? { ordinal: true } : {}),
  };
}

/** Writes folds.json atomically. */
export function writeFoldsFile(path: string, assign: KFoldAssignment): void {
  const file: FoldsFile = {
    version: 1,
    ...(assign.dataset !== undefined ? { dataset: assign.dataset } : {}),
    seed: assign.seed,
    of: assign.of,
    groupBy: assign.groupBy,
    classes: assign.classes,
    perFold: assign.perFold,
    achieved: assign.achieved,
    items: toEntries(assign.items).map((e, i) => ({ ...e, fold: assign.folds[i]! })),
  };
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeJsonAtomic(path, file);
}

/**
 * Reads folds.json: checks the version, the shape, that every item is in exactly one fold
 * (0..of-1, no file twice), that no fold is empty and, grouped, that no patient is in two
 * folds; and (if given) that its classes match. The files' existence is checked when a
 * fold's split file is read (readSplitFile).
 */
export function readFoldsFile(path: string, expected?: { classes?: readonly string[] }): KFoldAssignment<SplitEntry> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read folds file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const bad = (what: string): Error => new Error(`folds file ${path}: ${what}`);
  const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (o.version !== 1) throw bad(`version ${JSON.stringify(o.version)} is not supported (expected 1)`);
  if (!Array.isArray(o.classes) || !o.classes.every((c) => typeof c === 'string')) throw bad("'classes' must be a list of class names");
  if (typeof o.seed !== 'number') throw bad("'seed' must be a number");
  if (!Number.isInteger(o.of) || (o.of as number) < 2) throw bad(`'of' (the number of folds) must be an integer of at least 2, got ${JSON.stringify(o.of)}`);
  if (o.groupBy !== null && o.groupBy !== 'patient') throw bad(`'groupBy' must be 'patient' or null, got ${JSON.stringify(o.groupBy)}`);
  if (o.dataset !== undefined && typeof o.dataset !== 'string') throw bad("'dataset' must be a string");
  if (!Array.isArray(o.items)) throw bad("'items' must be a list of {file, label, fold}");
  const classes = o.classes as string[];
  const K = o.of as number;
  const grouped = o.groupBy === 'patient';
  const want = expected?.classes;
  if (want && (want.length !== classes.length || want.some((c, i) => c !== classes[i])))
    throw new Error(`folds file ${path} has classes [${classes.join(', ')}] but the dataset has [${want.join(', ')}]`);
  const items: SplitEntry[] = [];
  const folds: number[] = [];
  const seen = new Map<string, number>();
  const patientFold = new Map<string, number>();
  (o.items as unknown[]).forEach((e, i) => {
    const x = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    const ok = typeof x.file === 'string' && Number.isInteger(x.label) && (x.label as number) >= 0 && (x.label as number) < classes.length &&
      (x.group === undefined || typeof x.group === 'string');
    if (!ok) throw bad(`items[${i}] is not {file, label, group?, fold} with a label in 0..${classes.length - 1}: ${JSON.stringify(e)}`);
    if (!Number.isInteger(x.fold) || (x.fold as number) < 0 || (x.fold as number) >= K) throw bad(`items[${i}] (${String(x.file)}) has fold ${JSON.stringify(x.fold)}, not one of 0..${K - 1}`);
    const file = x.file as string;
    const fold = x.fold as number;
    const before = seen.get(file);
    if (before !== undefined) throw bad(`${file} is listed twice (folds ${folds[before]} and ${fold}); every image must be in exactly one fold`);
    seen.set(file, items.length);
    if (grouped && typeof x.group === 'string') {
      const pf = patientFold.get(x.group);
      if (pf !== undefined && pf !== fold) throw bad(`patient ${x.group} is in folds ${pf} and ${fold}; a grouped assignment keeps every patient in one fold`);
      patientFold.set(x.group, fold);
    }
    items.push(toEntries([x as unknown as SplitEntry])[0]!);
    folds.push(fold);
  });
  const stats = summarize(items, folds, K, classes.length, grouped);
  const empty = stats.perFold.findIndex((f) => f.images === 0);
  if (empty >= 0) throw bad(`fold ${empty} of ${K} has no images`);
  return {
    items,
    folds,
    of: K,
    seed: o.seed as number,
    groupBy: grouped ? 'patient' : null,
    classes,
    ...(o.dataset !== undefined ? { dataset: o.dataset as string } : {}),
    ...stats,
  };
}

const sameItem = (a: GroupSplitItem, b: GroupSplitItem): boolean => a.file === b.file && a.label === b.label && (a.group ?? '') === (b.group ?? '');

/**
 * What differs between a stored fold assignment (folds.json) and the one the settings make
 * now, each as "<option>: it has X, this one Y" (options: folds, seed, groupBy, the
 * dataset); empty when they are the same assignment of the same images.
 */
export function foldsDifferences(stored: KFoldAssignment, now: KFoldAssignment): string[] {
  const diff: string[] = [];
  if (stored.of !== now.of) diff.push(`folds: it has ${stored.of}, this one ${now.of}`);
  if (stored.seed !== now.seed) diff.push(`seed: it has ${stored.seed}, this one ${now.seed}`);
  if (stored.groupBy !== now.groupBy) diff.push(`groupBy: it has ${stored.groupBy ?? 'none'}, this one ${now.groupBy ?? 'none'}`);
  if (diff.length > 0) return diff;
  const at = new Map(stored.items.map((it, i) => [resolve(it.file), i]));
  const missing = now.items.find((it) => !at.has(resolve(it.file)));
  const changed = now.items.find((it, i) => {
    const j = at.get(resolve(it.file));
    return j !== undefined && (!sameItem({ ...stored.items[j]!, file: it.file }, it) || stored.folds[j] !== now.folds[i]);
  });
  if (stored.items.length !== now.items.length) diff.push(`the dataset: it has ${stored.items.length} images, this one ${now.items.length}`);
  else if (missing) diff.push(`the dataset: ${missing.file} is not in it`);
  else if (changed) diff.push(`the dataset: ${changed.file} has another label, patient or fold in it`);
  return diff;
}
