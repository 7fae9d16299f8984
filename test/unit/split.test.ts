import { describe, expect, it } from 'vitest';
import { Rng } from '../../lib/util/rng.js';
import { type SplitItem, countSplitLabels, splitCounts, stratifiedSplit } from '../../lib/split/index.js';

/** A manifest with the given class sizes; file names look like dataset paths. */
function manifest(sizes: number[]): SplitItem[] {
  const items: SplitItem[] = [];
  sizes.forEach((n, label) => {
    for (let i = 0; i < n; i++) items.push({ file: `class${label}/img_${String(i).padStart(5, '0')}.png`, label });
  });
  return items;
}

const countsOf = (items: SplitItem[], numClasses: number): number[] => {
  const c = new Array<number>(numClasses).fill(0);
  for (const it of items) c[it.label]! += 1;
  return c;
};

describe('stratifiedSplit reproduces the paper tables', () => {
  it('3-way 0.7/0.2/0.1 on benign 7657, malignant 3487', () => {
    const s = stratifiedSplit(manifest([7657, 3487]), { ratios: [0.7, 0.2, 0.1] });
    expect(countsOf(s.train, 2)).toEqual([5361, 2442]);
    expect(countsOf(s.val, 2)).toEqual([1531, 697]);
    expect(countsOf(s.test, 2)).toEqual([765, 348]);
  });

  it('2-way 0.7/0.3 on five intermediate classes', () => {
    const s = stratifiedSplit(manifest([25810, 2443, 5292, 873, 708]), { ratios: [0.7, 0.3] });
    expect(countsOf(s.train, 5)).toEqual([18067, 1710, 3704, 611, 495]);
    expect(countsOf(s.val, 5)).toEqual([7743, 733, 1588, 262, 213]);
    expect(s.test).toEqual([]);
  });

  it('splitCounts gives the same numbers and honours an explicit remainder', () => {
    expect(splitCounts(7657, { ratios: [0.7, 0.2, 0.1] })).toEqual({ train: 5361, val: 1531, test: 765 });
    expect(splitCounts(708, { ratios: [0.7, 0.3] })).toEqual({ train: 495, val: 213, test: 0 });
    expect(splitCounts(90, { ratios: [0.7, 0.3] })).toEqual({ train: 63, val: 27, test: 0 }); // 0.7*90 = 62.99999999999999
    expect(splitCounts(3487, { ratios: [0.7, 0.2, 0.1], remainder: 'test' })).toEqual({ train: 2440, val: 697, test: 350 });
    expect(countSplitLabels(stratifiedSplit(manifest([10, 4]), { ratios: [0.5, 0.5] })).val.get(1)).toBe(2);
  });
});

describe('stratifiedSplit properties', () => {
  const items = manifest([40, 25, 13]);
  const ratios = [0.7, 0.2, 0.1];
  const files = (xs: SplitItem[]): string[] => xs.map((x) => x.file);

  it('is deterministic for a seed and changes with the seed', () => {
    const a = stratifiedSplit(items, { ratios, seed: 7 });
    const b = stratifiedSplit(items, { ratios, seed: 7 });
    const c = stratifiedSplit(items, { ratios, seed: 8 });
    expect(files(a.train)).toEqual(files(b.train));
    expect(files(a.test)).toEqual(files(b.test));
    expect(files(a.val)).not.toEqual(files(c.val));
    // Default seed is 123.
    expect(files(stratifiedSplit(items, { ratios }).val)).toEqual(files(stratifiedSplit(items, { ratios, seed: 123 }).val));
  });

  it('puts every item in exactly one split', () => {
    const s = stratifiedSplit(items, { ratios });
    const all = [...files(s.train), ...files(s.val), ...files(s.test)];
    expect(all).toHaveLength(items.length);
    expect(new Set(all).size).toBe(items.length);
    expect([...all].sort()).toEqual(files(items).sort());
  });

  it('does not depend on input order', () => {
    const shuffled = new Rng(99).shuffle([...items]);
    const a = stratifiedSplit(items, { ratios });
    const b = stratifiedSplit(shuffled, { ratios });
    expect(files(a.train)).toEqual(files(b.train));
    expect(files(a.val)).toEqual(files(b.val));
    expect(files(a.test)).toEqual(files(b.test));
  });

  it('keeps extra fields of the items', () => {
    const rich = items.map((it) => ({ ...it, extra: it.file.length }));
    const s = stratifiedSplit(rich, { ratios });
    expect(s.train[0]!.extra).toBe(s.train[0]!.file.length);
  });

  it('validates ratios, remainder and items', () => {
    expect(() => stratifiedSplit(items, { ratios: [1] })).toThrow(/2 \(train,val\) or 3/);
    expect(() => stratifiedSplit(items, { ratios: [0.5, 0.3, 0.1, 0.1] })).toThrow(/2 \(train,val\) or 3/);
    expect(() => stratifiedSplit(items, { ratios: [0.7, 0.2] })).toThrow(/sum to 1/);
    expect(() => stratifiedSplit(items, { ratios: [1.2, -0.2] })).toThrow(/positive/);
    expect(() => stratifiedSplit(items, { ratios: [0.7, NaN] })).toThrow(/positive/);
    expect(() => stratifiedSplit(items, { ratios: [0.7, 0.3], remainder: 'test' })).toThrow(/remainder/);
    expect(() => stratifiedSplit([{ file: 'a', label: -1 }], { ratios: [0.5, 0.5] })).toThrow(/invalid label/);
    expect(() => stratifiedSplit([{ file: 'a', label: 0 }, { file: 'a', label: 1 }], { ratios: [0.5, 0.5] })).toThrow(/duplicate/);
  });
});
