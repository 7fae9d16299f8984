// Seeded stratified train/val(/test) split, following the paper's rule so the
// published per-class counts are reproduced exactly:
//   per class (ascending label), sort by file name, shuffle with one shared
//   RNG, give every non-remainder split floor(ratio * n) items and the
//   remainder split whatever is left.
import { Rng } from '../util/rng.js';

export interface SplitItem {
  file: string;
  label: number;
}

export type SplitName = 'train' | 'val' | 'test';

export interface SplitOptions {
  /** [train, val] or [train, val, test]; positive, summing to 1. */
  ratios: number[];
  /** Default 123. */
  seed?: number;
  /** Split that absorbs rounding; default 'train' for 3 ratios, 'val' for 2. */
  remainder?: SplitName;
}

export interface SplitResult<T extends SplitItem> {
  train: T[];
  val: T[];
  test: T[];
}

export interface SplitSizes {
  train: number;
  val: number;
  test: number;
}

export const DEFAULT_SPLIT_SEED = 123;
const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];
// 0.7 * 90 is 62.99999999999999 in binary floating point; nudge before floor.
const FLOOR_EPS = 1e-9;

function validateRatios(ratios: number[]): void {
  if (!Array.isArray(ratios) || (ratios.length !== 2 && ratios.length !== 3)) {
    throw new Error(`split ratios must have 2 (train,val) or 3 (train,val,test) entries, got ${JSON.stringify(ratios)}`);
  }
  for (const r of ratios) {
    if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0) {
      throw new Error(`split ratios must be positive finite numbers, got ${JSON.stringify(ratios)}`);
    }
  }
  const sum = ratios.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) {
    throw new Error(`split ratios must sum to 1 (within 1e-6), got sum ${sum} for ${JSON.stringify(ratios)}`);
  }
}

function resolveRemainder(ratios: number[], remainder: SplitName | undefined): SplitName {
  const chosen = remainder ?? (ratios.length === 3 ? 'train' : 'val');
  const index = SPLIT_NAMES.indexOf(chosen);
  if (index < 0 || index >= ratios.length) {
    throw new Error(`remainder split '${String(chosen)}' is not one of the ${ratios.length} splits`);
  }
  return chosen;
}

/** Per-class split sizes for a class of `n` items under the paper's rule. */
export function splitCounts(n: number, options: Pick<SplitOptions, 'ratios' | 'remainder'>): SplitSizes {
  if (!Number.isInteger(n) || n < 0) throw new Error(`class size must be a non-negative integer, got ${n}`);
  validateRatios(options.ratios);
  const remainder = resolveRemainder(options.ratios, options.remainder);
  const sizes: SplitSizes = { train: 0, val: 0, test: 0 };
  let used = 0;
  options.ratios.forEach((ratio, i) => {
    const name = SPLIT_NAMES[i] as SplitName;
    if (name === remainder) return;
    sizes[name] = Math.floor(ratio * n + FLOOR_EPS);
    used += sizes[name];
  });
  sizes[remainder] = n - used;
  return sizes;
}

function validateItems(items: readonly SplitItem[]): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (typeof item.file !== 'string') throw new Error(`split item has no file name: ${JSON.stringify(item)}`);
    if (!Number.isInteger(item.label) || item.label < 0) {
      throw new Error(`split item '${item.file}' has invalid label ${item.label} (need a non-negative integer)`);
    }
    // A repeated file would make the split depend on input order and could
    // land the same image in two splits.
    if (seen.has(item.file)) throw new Error(`duplicate file in split input: '${item.file}'`);
    seen.add(item.file);
  }
}

function groupByLabel<T extends SplitItem>(items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(item.label);
    if (group) group.push(item);
    else groups.set(item.label, [item]);
  }
  return groups;
}

// Code-unit order, not localeCompare: the order must not depend on the locale.
function byFile(a: SplitItem, b: SplitItem): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}

/** Stratified, seeded split; see the header comment for the exact rule. */
export function stratifiedSplit<T extends SplitItem>(items: readonly T[], options: SplitOptions): SplitResult<T> {
  validateRatios(options.ratios);
  const remainder = resolveRemainder(options.ratios, options.remainder);
  validateItems(items);
  const rng = new Rng(options.seed ?? DEFAULT_SPLIT_SEED);
  const result: SplitResult<T> = { train: [], val: [], test: [] };
  const groups = groupByLabel(items);
  const labels = [...groups.keys()].sort((a, b) => a - b);
  for (const label of labels) {
    const members = rng.shuffle([...(groups.get(label) as T[])].sort(byFile));
    const sizes = splitCounts(members.length, { ratios: options.ratios, remainder });
    let start = 0;
    for (const name of SPLIT_NAMES) {
      // Plain loop: spreading a large class into push() can overflow the stack.
      for (let i = start; i < start + sizes[name]; i++) result[name].push(members[i] as T);
      start += sizes[name];
    }
  }
  return result;
}

/** Per-label counts of each split, e.g. for printing the split table. */
export function countSplitLabels(split: SplitResult<SplitItem>): Record<SplitName, Map<number, number>> {
  const count = (items: SplitItem[]): Map<number, number> => {
    const m = new Map<number, number>();
    for (const it of items) m.set(it.label, (m.get(it.label) ?? 0) + 1);
    return m;
  };
  return { train: count(split.train), val: count(split.val), test: count(split.test) };
}
