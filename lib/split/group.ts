// Patient-level split: every group (patient) lands in exactly one split, so no
// patient's images are both trained on and tested on (the paper's image-level
// split leaks patients). Rule, deterministic for a seed:
//   1. groups are stratified by their majority class (ties: lower label);
//   2. each stratum is sorted by group id and shuffled with one seeded Rng;
//   3. strata are interleaved in proportion to their sizes, so every class
//      keeps being balanced until the end rather than one class at a time;
//   4. each group goes to the split where it reduces the relative distance to
//      the per-class targets (the paper's floor rule on image counts) most.
// Items without a group are their own group.
import { Rng } from '../util/rng.js';
import { DEFAULT_SPLIT_SEED, type SplitItem, type SplitName, type SplitOptions, type SplitResult, type SplitSizes, splitCounts } from './stratified.js';

export interface GroupSplitItem extends SplitItem {
  group?: string;
}

export interface ClassRatios {
  label: number;
  total: number;
  counts: SplitSizes;
  /** counts / total per split. */
  ratios: SplitSizes;
}

export interface GroupSplitResult<T extends GroupSplitItem> extends SplitResult<T> {
  /** Achieved per-class image counts and ratios. */
  achieved: ClassRatios[];
  /** Number of groups in each split. */
  groups: SplitSizes;
}

interface Group<T> {
  key: string;
  items: T[];
  /** Images per label. */
  counts: Map<number, number>;
  majority: number;
}

const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];
const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const zero = (): SplitSizes => ({ train: 0, val: 0, test: 0 });

function buildGroups<T extends GroupSplitItem>(items: readonly T[]): Group<T>[] {
  const map = new Map<string, T[]>();
  const seen = new Set<string>();
  for (const it of items) {
    if (!Number.isInteger(it.label) || it.label < 0) throw new Error(`split item '${it.file}' has invalid label ${it.label}`);
    if (seen.has(it.file)) throw new Error(`duplicate file in split input: '${it.file}'`);
    seen.add(it.file);
    // NUL cannot appear in a patient id read from a sheet, so ungrouped keys never collide.
    const key = it.group ?? `\u0000${it.file}`;
    const list = map.get(key);
    if (list) list.push(it);
    else map.set(key, [it]);
  }
  return [...map.keys()].sort(byCode).map((key) => {
    const members = (map.get(key) as T[]).sort((a, b) => byCode(a.file, b.file));
    const counts = new Map<number, number>();
    for (const it of members) counts.set(it.label, (counts.get(it.label) ?? 0) + 1);
    const majority = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
    return { key, items: members, counts, majority };
  });
}

/** Shuffled strata interleaved so each is consumed at the same relative pace. */
function orderGroups<T>(groups: Group<T>[], rng: Rng): Group<T>[] {
  const strata = new Map<number, Group<T>[]>();
  for (const g of groups) {
    const list = strata.get(g.majority);
    if (list) list.push(g);
    else strata.set(g.majority, [g]);
  }
  const lists = [...strata.keys()].sort((a, b) => a - b).map((l) => rng.shuffle(strata.get(l) as Group<T>[]));
  const taken = lists.map(() => 0);
  const out: Group<T>[] = [];
  while (out.length < groups.length) {
    let pick = -1;
    lists.forEach((list, i) => {
      if (taken[i]! < list.length && (pick < 0 || taken[i]! / list.length < taken[pick]! / lists[pick]!.length)) pick = i;
    });
    out.push(lists[pick]![taken[pick]!]!);
    taken[pick]! += 1;
  }
  return out;
}

/** Increase of sum((count - target)^2 / target) if the group joins split `s`. */
function cost(g: Group<unknown>, s: SplitName, have: Map<number, SplitSizes>, want: Map<number, SplitSizes>): number {
  let delta = 0;
  for (const [label, n] of g.counts) {
    const t = Math.max(want.get(label)![s], 1);
    delta += (n * (2 * (have.get(label)![s] - want.get(label)![s]) + n)) / t;
  }
  return delta;
}

function achievedRatios(have: Map<number, SplitSizes>): ClassRatios[] {
  return [...have.keys()].sort((a, b) => a - b).map((label) => {
    const counts = have.get(label) as SplitSizes;
    const total = counts.train + counts.val + counts.test;
    const ratios = { train: counts.train / total, val: counts.val / total, test: counts.test / total };
    return { label, total, counts, ratios };
  });
}

/** Seeded split that keeps every group in one split; see the header comment. */
export function groupSplit<T extends GroupSplitItem>(items: readonly T[], options: SplitOptions): GroupSplitResult<T> {
  splitCounts(0, options); // validates ratios and remainder
  const active = SPLITS.slice(0, options.ratios.length);
  const groups = buildGroups(items);
  const totals = new Map<number, number>();
  for (const it of items) totals.set(it.label, (totals.get(it.label) ?? 0) + 1);
  const want = new Map([...totals].map(([l, n]) => [l, splitCounts(n, options)]));
  const have = new Map([...totals.keys()].map((l) => [l, zero()]));
  const result: GroupSplitResult<T> = { train: [], val: [], test: [], achieved: [], groups: zero() };
  for (const g of orderGroups(groups, new Rng(options.seed ?? DEFAULT_SPLIT_SEED))) {
    const best = active.reduce((a, b) => (cost(g, b, have, want) < cost(g, a, have, want) ? b : a));
    for (const [label, n] of g.counts) have.get(label)![best] += n;
    for (const it of g.items) result[best].push(it);
    result.groups[best] += 1;
  }
  result.achieved = achievedRatios(have);
  return result;
}
