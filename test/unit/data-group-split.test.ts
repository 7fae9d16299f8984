// Patient-level split: no patient in two splits, per-class ratios close to the
// targets, deterministic per seed.
import { describe, expect, it } from 'vitest';

import { type GroupSplitItem, type GroupSplitResult, groupSplit } from '../../lib/split/index.js';
import { Rng } from '../../lib/util/rng.js';

/** `total` images over `patients` patients, 1..120 weight each (very uneven), summing exactly. */
function perPatient(rng: Rng, patients: number, total: number): number[] {
  const w = Array.from({ length: patients }, () => 1 + rng.nextInt(120));
  const sum = w.reduce((a, b) => a + b, 0);
  const n = w.map((x) => Math.max(1, Math.floor((x * total) / sum)));
  for (let i = 0, left = total - n.reduce((a, b) => a + b, 0); left > 0; i = (i + 1) % patients, left--) n[i]! += 1;
  return n;
}

/**
 * CE-NBI-like: 210 patients (140 benign, 70 malignant), 11,144 images,
 * benign 7,657 / malignant 3,487; ten malignant patients also have benign images.
 */
function cenbiLike(): GroupSplitItem[] {
  const rng = new Rng(2024);
  const items: GroupSplitItem[] = [];
  const add = (patient: number, label: number, count: number): void => {
    const group = `Patient${String(patient).padStart(3, '0')}`;
    for (let k = 0; k < count; k++) items.push({ file: `/data/${group}_${label} (${k}).png`, label, group });
  };
  perPatient(rng, 140, 7657 - 10 * 5).forEach((n, p) => add(p + 1, 0, n));
  perPatient(rng, 70, 3487).forEach((n, p) => {
    add(141 + p, 1, n);
    if (p < 10) add(141 + p, 0, 5);
  });
  return items;
}

const RATIOS = [0.7, 0.2, 0.1];
const names = ['train', 'val', 'test'] as const;

function patientsIn(s: GroupSplitResult<GroupSplitItem>): Map<string, Set<string>> {
  const where = new Map<string, Set<string>>();
  for (const n of names) for (const it of s[n]) where.set(it.group!, (where.get(it.group!) ?? new Set()).add(n));
  return where;
}

describe('groupSplit', () => {
  const items = cenbiLike();

  it('builds the intended synthetic set', () => {
    expect(items).toHaveLength(11144);
    expect(items.filter((i) => i.label === 0)).toHaveLength(7657);
    expect(new Set(items.map((i) => i.group)).size).toBe(210);
  });

  it('keeps every patient in exactly one split and every image in one split', () => {
    for (const seed of [123, 1, 2]) {
      const s = groupSplit(items, { ratios: RATIOS, seed });
      const where = patientsIn(s);
      expect(where.size).toBe(210);
      for (const [, splits] of where) expect(splits.size).toBe(1);
      const files = names.flatMap((n) => s[n].map((i) => i.file));
      expect(new Set(files).size).toBe(11144);
      expect(s.groups.train + s.groups.val + s.groups.test).toBe(210);
    }
  });

  it('achieves the per-class ratios within 0.02 for several seeds', () => {
    for (const seed of [123, 7, 99, 2025]) {
      const s = groupSplit(items, { ratios: RATIOS, seed });
      expect(s.achieved.map((a) => a.total)).toEqual([7657, 3487]);
      for (const a of s.achieved)
        names.forEach((n, i) => expect(Math.abs(a.ratios[n] - RATIOS[i]!), `seed ${seed} class ${a.label} ${n}`).toBeLessThan(0.02));
      for (const a of s.achieved) expect(a.counts.train + a.counts.val + a.counts.test).toBe(a.total);
    }
  });

  it('is deterministic per seed, independent of input order, and changes with the seed', () => {
    const files = (s: GroupSplitResult<GroupSplitItem>): string[][] => names.map((n) => s[n].map((i) => i.file));
    const a = groupSplit(items, { ratios: RATIOS, seed: 123 });
    expect(files(groupSplit(items, { ratios: RATIOS, seed: 123 }))).toEqual(files(a));
    expect(files(groupSplit(new Rng(5).shuffle([...items]), { ratios: RATIOS, seed: 123 }))).toEqual(files(a));
    expect(files(groupSplit(items, { ratios: RATIOS }))).toEqual(files(a));
    expect(files(groupSplit(items, { ratios: RATIOS, seed: 124 }))).not.toEqual(files(a));
  });

  it('treats items without a group as their own group: exact floor-rule counts (paper Table 1)', () => {
    const flat = items.map(({ file, label }) => ({ file, label }));
    const s = groupSplit(flat, { ratios: RATIOS });
    expect(s.achieved.map((a) => a.counts)).toEqual([
      { train: 5361, val: 1531, test: 765 },
      { train: 2442, val: 697, test: 348 },
    ]);
    expect(s.groups).toEqual({ train: 7803, val: 2228, test: 1113 });
  });

  it('handles 2-way ratios with DR-like two-eye groups, and validates input', () => {
    const dr: GroupSplitItem[] = [];
    for (let id = 0; id < 500; id++) for (const eye of ['left', 'right']) dr.push({ file: `${id}_${eye}.jpeg`, label: id % 5, group: String(id) });
    const s = groupSplit(dr, { ratios: [0.7, 0.3] });
    expect(s.test).toEqual([]);
    for (const [, splits] of patientsIn(s)) expect(splits.size).toBe(1);
    for (const a of s.achieved) expect(Math.abs(a.ratios.train - 0.7)).toBeLessThan(0.02);
    expect(() => groupSplit(dr, { ratios: [0.7, 0.2] })).toThrow(/sum to 1/);
    expect(() => groupSplit([dr[0]!, dr[0]!], { ratios: [0.5, 0.5] })).toThrow(/duplicate/);
  });
});
