// k-fold cross-validation assignment: no patient in two folds, every image in exactly one
// test fold, per-fold class ratios close to the whole, train/val disjoint and grouped,
// deterministic per seed; folds.json round trip; the refusals' messages.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  type GroupSplitItem,
  type KFoldAssignment,
  kfoldAssign,
  kfoldSplits,
  readFoldsFile,
  readSplitFile,
  writeFoldsFile,
  writeSplitFile,
} from '../../lib/split/index.js';
import { writeJsonAtomic } from '../../lib/util/runfolder.js';
import { Rng } from '../../lib/util/rng.js';
import { tempDir } from '../helpers/images.js';

interface Dataset {
  items: GroupSplitItem[];
  classes: string[];
  K: number;
  /** Patients per class. */
  patients: number[];
}

/** 2-5 classes, 10-80 patients per class, 1-8 images per patient, one class per patient, K in 2..5. */
function randomDataset(seed: number): Dataset {
  const rng = new Rng(seed);
  const C = 2 + rng.nextInt(4);
  const K = 2 + rng.nextInt(4);
  const items: GroupSplitItem[] = [];
  const patients: number[] = [];
  let p = 0;
  for (let c = 0; c < C; c++) {
    const n = 10 + rng.nextInt(71);
    patients.push(n);
    for (let j = 0; j < n; j++, p++) {
      const images = 1 + rng.nextInt(8);
      for (let i = 0; i < images; i++) items.push({ file: `/data/P${p}/img${i}.png`, label: c, group: `P${p}` });
    }
  }
  // input order must not matter
  return { items: rng.shuffle(items), classes: Array.from({ length: C }, (_, c) => `class${c}`), K, patients };
}

const DATASETS = Array.from({ length: 50 }, (_, i) => randomDataset(5000 + i));
/** Ratios are checked where every class has at least this many patients per fold (on average). */
const MIN_PATIENTS_PER_CLASS_PER_FOLD = 3;
const TOLERANCE = 0.03;

const byFile = (a: { file: string }, b: { file: string }): number => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
const foldOf = (a: KFoldAssignment): Map<string, number> => new Map(a.items.map((it, i) => [it.file, a.folds[i]!]));

/** Largest |fold share - whole share| over folds and classes, recomputed from the folds. */
function deviation(items: readonly GroupSplitItem[], folds: readonly number[], K: number, C: number): number {
  const counts = Array.from({ length: K }, () => new Array<number>(C).fill(0));
  const total = new Array<number>(C).fill(0);
  items.forEach((it, i) => {
    counts[folds[i]!]![it.label]! += 1;
    total[it.label]! += 1;
  });
  let worst = 0;
  for (const row of counts) {
    const n = row.reduce((a, b) => a + b, 0);
    row.forEach((x, c) => (worst = Math.max(worst, Math.abs(x / n - total[c]! / items.length))));
  }
  return worst;
}

describe('kfoldAssign by patient: properties over 50 seeded random datasets', () => {
  it('keeps every patient in one fold, every image in one fold, and reports consistent counts', () => {
    for (const [d, ds] of DATASETS.entries()) {
      const a = kfoldAssign(ds.items, { folds: ds.K, seed: d, groupBy: 'patient', classes: ds.classes });
      expect(a.folds).toHaveLength(ds.items.length);
      expect(a.items.map((it) => it.file)).toEqual(ds.items.map((it) => it.file));
      const where = new Map<string, Set<number>>();
      a.items.forEach((it, i) => {
        expect(Number.isInteger(a.folds[i]) && a.folds[i]! >= 0 && a.folds[i]! < ds.K).toBe(true);
        where.set(it.group!, (where.get(it.group!) ?? new Set()).add(a.folds[i]!));
      });
      for (const [patient, folds] of where) expect(folds.size, `dataset ${d} patient ${patient}`).toBe(1);
      expect(a.perFold.reduce((s, f) => s + f.images, 0)).toBe(ds.items.length);
      expect(a.perFold.reduce((s, f) => s + f.groups, 0)).toBe(where.size);
      for (const f of a.perFold) {
        expect(f.classCounts.reduce((s, n) => s + n, 0)).toBe(f.images);
        for (const n of f.classCounts) expect(n).toBeGreaterThan(0);
      }
      expect(a.maxDeviation).toBeCloseTo(deviation(ds.items, a.folds, ds.K, ds.classes.length), 12);
    }
  });

  it(`keeps per-fold class ratios within ${TOLERANCE} of the whole where every class has >= ${MIN_PATIENTS_PER_CLASS_PER_FOLD} patients per fold`, () => {
    let checked = 0;
    let worst = 0;
    for (const [d, ds] of DATASETS.entries()) {
      if (Math.min(...ds.patients) / ds.K < MIN_PATIENTS_PER_CLASS_PER_FOLD) continue;
      checked += 1;
      for (const seed of [d, 123]) {
        const a = kfoldAssign(ds.items, { folds: ds.K, seed, groupBy: 'patient', classes: ds.classes });
        a.achieved.forEach((row, f) =>
          row.forEach((r, c) => expect(Math.abs(r - a.whole[c]!), `dataset ${d} seed ${seed} fold ${f} class ${c}`).toBeLessThanOrEqual(TOLERANCE)),
        );
        worst = Math.max(worst, a.maxDeviation);
      }
    }
    // the condition leaves most datasets in: the check is not vacuous
    expect(checked).toBeGreaterThanOrEqual(40);
    console.log(`kfold by patient: worst per-fold class ratio deviation ${worst.toFixed(4)} over ${checked} datasets x 2 seeds`);
  });

  it('the ratio check can fail: random patient folds on the same datasets break it', () => {
    let broken = 0;
    for (const [d, ds] of DATASETS.entries()) {
      if (Math.min(...ds.patients) / ds.K < MIN_PATIENTS_PER_CLASS_PER_FOLD) continue;
      const rng = new Rng(d);
      const fold = new Map<string, number>();
      for (const it of ds.items) if (!fold.has(it.group!)) fold.set(it.group!, rng.nextInt(ds.K));
      const folds = ds.items.map((it) => fold.get(it.group!)!);
      if (new Set(folds).size === ds.K && deviation(ds.items, folds, ds.K, ds.classes.length) > TOLERANCE) broken += 1;
    }
    expect(broken).toBeGreaterThanOrEqual(10);
  });

  it('gives every image exactly one test fold; val and train are disjoint, stratified and grouped', () => {
    for (const [d, ds] of DATASETS.slice(0, 20).entries()) {
      const a = kfoldAssign(ds.items, { folds: ds.K, seed: d, groupBy: 'patient', classes: ds.classes });
      const testedIn = new Map<string, number[]>();
      for (let k = 0; k < ds.K; k++) {
        const s = kfoldSplits(a, k, { valRatio: 0.2 });
        expect(s.fold).toEqual({ k, of: ds.K });
        expect(s.groupBy).toBe('patient');
        expect(s.classes).toEqual(ds.classes);
        for (const e of s.test) testedIn.set(e.file, [...(testedIn.get(e.file) ?? []), k]);
        expect(s.test.map((e) => e.file).sort()).toEqual(a.items.filter((_, i) => a.folds[i] === k).map((it) => it.file).sort());
        const all = [...s.train, ...s.val, ...s.test].map((e) => e.file);
        expect(new Set(all).size).toBe(ds.items.length);
        expect(all).toHaveLength(ds.items.length);
        const part = new Map<string, Set<string>>();
        for (const name of ['train', 'val', 'test'] as const) for (const e of s[name]) part.set(e.group!, (part.get(e.group!) ?? new Set()).add(name));
        for (const [patient, parts] of part) expect(parts.size, `dataset ${d} fold ${k} patient ${patient}`).toBe(1);
        // validation: about 20% of each class's training-fold images, and every class present
        for (const c of s.achieved!) {
          expect(c.counts.val).toBeGreaterThan(0);
          expect(Math.abs(c.counts.val / (c.counts.train + c.counts.val) - 0.2), `dataset ${d} fold ${k} class ${c.label}`).toBeLessThan(0.12);
        }
      }
      expect(testedIn.size).toBe(ds.items.length);
      for (const [file, ks] of testedIn) expect(ks, file).toHaveLength(1);
    }
  });

  it('is deterministic for a seed, independent of input order, and changes with the seed', () => {
    for (const [d, ds] of DATASETS.slice(0, 10).entries()) {
      const o = { folds: ds.K, seed: 40 + d, groupBy: 'patient' as const, classes: ds.classes };
      const a = foldOf(kfoldAssign(ds.items, o));
      expect(foldOf(kfoldAssign(ds.items, o))).toEqual(a);
      expect(foldOf(kfoldAssign(new Rng(d).shuffle([...ds.items]), o))).toEqual(a);
      expect(foldOf(kfoldAssign(ds.items, { ...o, seed: 41 + d }))).not.toEqual(a);
      const s1 = kfoldSplits(kfoldAssign(ds.items, o), 1, { valRatio: 0.25 });
      const s2 = kfoldSplits(kfoldAssign(new Rng(d + 1).shuffle([...ds.items]), o), 1, { valRatio: 0.25 });
      for (const name of ['train', 'val', 'test'] as const) expect(s2[name]).toEqual(s1[name]);
    }
    const ds = DATASETS[0]!;
    const o = { folds: ds.K, groupBy: 'patient' as const };
    expect(foldOf(kfoldAssign(ds.items, o))).toEqual(foldOf(kfoldAssign(ds.items, { ...o, seed: 123 })));
  });

  it('holds the ratios on a CE-NBI-like set where some patients have images of both classes', () => {
    const rng = new Rng(2024);
    const items: GroupSplitItem[] = [];
    for (let p = 0; p < 210; p++) {
      const label = p < 140 ? 0 : 1;
      const n = 5 + rng.nextInt(100);
      for (let i = 0; i < n; i++) items.push({ file: `/d/P${p}_${i}.png`, label, group: `P${p}` });
      if (p >= 140 && p < 150) for (let i = 0; i < 5; i++) items.push({ file: `/d/P${p}_b${i}.png`, label: 0, group: `P${p}` });
    }
    for (const seed of [1, 2, 3, 123]) {
      const a = kfoldAssign(items, { folds: 5, seed, groupBy: 'patient', classes: ['benign', 'malignant'] });
      expect(a.maxDeviation, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
      expect(Math.max(...a.perFold.map((f) => f.images)) - Math.min(...a.perFold.map((f) => f.images))).toBeLessThan(0.05 * items.length);
    }
  });

  it('treats items without a group as their own group', () => {
    const items: GroupSplitItem[] = [];
    for (let i = 0; i < 30; i++) items.push({ file: `/u/${i}.png`, label: i % 2 });
    for (let i = 0; i < 12; i++) items.push({ file: `/g/${i}.png`, label: 0, group: 'big' });
    const a = kfoldAssign(items, { folds: 3, seed: 9, groupBy: 'patient' });
    expect(new Set(a.items.flatMap((it, i) => (it.group === 'big' ? [a.folds[i]] : []))).size).toBe(1);
    expect(a.perFold.reduce((s, f) => s + f.groups, 0)).toBe(31);
    const s = kfoldSplits(a, 0, { valRatio: 0.3 });
    expect(s.train.length + s.val.length + s.test.length).toBe(42);
  });
});

describe('kfoldAssign by image', () => {
  it('deals each class round-robin: per-fold class counts and fold sizes differ by at most one', () => {
    for (const [d, ds] of DATASETS.entries()) {
      const a = kfoldAssign(ds.items, { folds: ds.K, seed: d, classes: ds.classes });
      expect(a.groupBy).toBeNull();
      const sizes = a.perFold.map((f) => f.images);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      ds.classes.forEach((_, c) => {
        const per = a.perFold.map((f) => f.classCounts[c]!);
        expect(Math.max(...per) - Math.min(...per)).toBeLessThanOrEqual(1);
      });
      // smallest class here has 10 patients of 1+ images each: >= 2 images per fold and class
      expect(a.maxDeviation).toBeLessThanOrEqual(TOLERANCE);
      expect(a.perFold.map((f) => f.groups)).toEqual(sizes);
      const s = kfoldSplits(a, ds.K - 1, { valRatio: 0.2 });
      expect(new Set([...s.train, ...s.val, ...s.test].map((e) => e.file)).size).toBe(ds.items.length);
      expect(s.achieved).toBeUndefined();
    }
  });

  it('does not keep patients together (image level)', () => {
    const ds = DATASETS[1]!;
    const a = kfoldAssign(ds.items, { folds: ds.K, seed: 1 });
    const where = new Map<string, Set<number>>();
    a.items.forEach((it, i) => where.set(it.group!, (where.get(it.group!) ?? new Set()).add(a.folds[i]!)));
    expect([...where.values()].some((f) => f.size > 1)).toBe(true);
  });
});

describe('refusals', () => {
  const ds = DATASETS[0]!;
  const oneLine = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).not.toContain('\n');
      expect(msg).not.toContain('--');
      return msg;
    }
    throw new Error('did not throw');
  };

  it('folds below 2 or not an integer', () => {
    expect(oneLine(() => kfoldAssign(ds.items, { folds: 1 }))).toBe('folds must be an integer of at least 2, got 1');
    expect(oneLine(() => kfoldAssign(ds.items, { folds: 2.5 }))).toBe('folds must be an integer of at least 2, got 2.5');
  });

  it('folds above the number of patients or images, naming both', () => {
    const few: GroupSplitItem[] = [];
    for (let p = 0; p < 4; p++) for (let i = 0; i < 3; i++) few.push({ file: `/f/${p}_${i}.png`, label: p % 2, group: `P${p}` });
    expect(oneLine(() => kfoldAssign(few, { folds: 5, groupBy: 'patient' }))).toBe(
      'folds is 5 but the data has 4 patients; folds must be between 2 and the number of patients (4)',
    );
    expect(oneLine(() => kfoldAssign(few.slice(0, 3), { folds: 4 }))).toBe('folds is 4 but the data has 3 images; folds must be between 2 and the number of images (3)');
  });

  it('a class with fewer patients (grouped) or images than folds, by name', () => {
    const items: GroupSplitItem[] = [];
    for (let p = 0; p < 10; p++) for (let i = 0; i < 4; i++) items.push({ file: `/c/${p}_${i}.png`, label: p < 8 ? 0 : 1, group: `P${p}` });
    const classes = ['benign', 'malignant'];
    expect(oneLine(() => kfoldAssign(items, { folds: 3, groupBy: 'patient', classes }))).toBe(
      "class 'malignant' (2 patients) has fewer patients than folds (3), so a fold would miss it; lower folds, add patients or drop the class",
    );
    // by image the same class has 8 images: enough
    expect(kfoldAssign(items, { folds: 3, classes }).of).toBe(3);
    expect(oneLine(() => kfoldAssign(items, { folds: 9, classes }))).toBe(
      "class 'malignant' (8 images) has fewer images than folds (9), so a fold would miss it; lower folds, add images or drop the class",
    );
    expect(oneLine(() => kfoldAssign(items, { folds: 3, classes: ['a', 'b', 'c'] }))).toBe(
      "class 'c' (0 images) has fewer images than folds (3), so a fold would miss it; lower folds, add images or drop the class",
    );
    expect(oneLine(() => kfoldAssign(items, { folds: 9, groupBy: 'patient', classes }))).toBe(
      "classes 'benign' (8 patients), 'malignant' (2 patients) have fewer patients than folds (9), so a fold would miss them; lower folds, add patients or drop those classes",
    );
  });

  it('bad items, groupBy, fold index and valRatio', () => {
    expect(oneLine(() => kfoldAssign([ds.items[0]!, ds.items[0]!], { folds: 2 }))).toMatch(/^duplicate file in k-fold input/);
    expect(oneLine(() => kfoldAssign([{ file: 'a', label: -1 }], { folds: 2 }))).toMatch(/invalid label -1/);
    expect(oneLine(() => kfoldAssign(ds.items, { folds: 2, groupBy: 'eye' as 'patient' }))).toBe("groupBy must be 'patient' or left out, got 'eye'");
    const a = kfoldAssign(ds.items, { folds: ds.K, groupBy: 'patient' });
    expect(oneLine(() => kfoldSplits(a, ds.K, { valRatio: 0.2 }))).toBe(`fold must be an integer in 0..${ds.K - 1}, got ${ds.K}`);
    for (const v of [0, 1, -0.1, Number.NaN])
      expect(oneLine(() => kfoldSplits(a, 0, { valRatio: v }))).toBe(`valRatio must be a number between 0 and 1 (both excluded), got ${v}`);
  });
});

describe('folds.json', () => {
  it('is written once and read back to the same assignment and splits', () => {
    const ds = DATASETS[3]!;
    const dir = tempDir('kfold');
    // real (empty) files, so that a fold's split file can be read back as a run would
    const items = ds.items.map((it) => ({ ...it, file: join(dir, it.file.replace(/\//g, '_')) }));
    for (const it of items) writeFileSync(it.file, '');
    const a = kfoldAssign(items, { folds: ds.K, seed: 77, groupBy: 'patient', classes: ds.classes, dataset: '/data' });
    const path = join(dir, 'study', 'folds.json');
    writeFoldsFile(path, a);
    const b = readFoldsFile(path, { classes: ds.classes });
    expect(b.items.map((it) => it.file)).toEqual(a.items.map((it) => it.file));
    expect(b.folds).toEqual(a.folds);
    expect(b.items.map((it) => it.group)).toEqual(a.items.map((it) => it.group));
    expect({ of: b.of, seed: b.seed, groupBy: b.groupBy, classes: b.classes, dataset: b.dataset }).toEqual({
      of: ds.K, seed: 77, groupBy: 'patient', classes: ds.classes, dataset: '/data',
    });
    expect(b.perFold).toEqual(a.perFold);
    expect(b.achieved).toEqual(a.achieved);
    for (let k = 0; k < ds.K; k++) {
      const s = kfoldSplits(b, k, { valRatio: 0.2 });
      expect(s).toEqual(kfoldSplits(a, k, { valRatio: 0.2 }));
      const splitPath = join(dir, 'study', `split-fold${k}.json`);
      writeSplitFile(splitPath, s);
      const read = readSplitFile(splitPath, { classes: ds.classes });
      expect(read.fold).toEqual({ k, of: ds.K });
      expect(read.test.map((e) => e.file)).toEqual(s.test.map((e) => e.file));
      expect(read.dataset).toBe('/data');
    }
    expect(() => readFoldsFile(path, { classes: ['x', 'y'] })).toThrow(/has classes/);
  });

  it('refuses a wrong version, an image in two folds, a fold out of range, a split patient and an empty fold', () => {
    const ds = DATASETS[2]!;
    const dir = tempDir('kfold-bad');
    const path = join(dir, 'folds.json');
    writeFoldsFile(path, kfoldAssign(ds.items, { folds: ds.K, seed: 1, groupBy: 'patient', classes: ds.classes }));
    const good = JSON.parse(JSON.stringify(readJson(path))) as { version: number; of: number; items: { file: string; group?: string; fold: number }[] };
    const bad = (edit: (o: typeof good) => void): string => {
      const o = JSON.parse(JSON.stringify(good)) as typeof good;
      edit(o);
      const p = join(dir, 'bad.json');
      writeJsonAtomic(p, o);
      try {
        readFoldsFile(p);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('did not throw');
    };
    expect(bad((o) => (o.version = 2))).toMatch(/version 2 is not supported \(expected 1\)/);
    expect(bad((o) => o.items.push({ ...o.items[0]!, fold: (o.items[0]!.fold + 1) % o.of }))).toMatch(/is listed twice .*exactly one fold/);
    expect(bad((o) => (o.items[0]!.fold = o.of))).toMatch(new RegExp(`has fold ${good.of}, not one of 0\\.\\.${good.of - 1}`));
    expect(bad((o) => {
      const first = o.items[0]!;
      const other = o.items.find((it) => it.group !== first.group && it.fold !== first.fold)!;
      other.group = first.group;
    })).toMatch(/patient .* is in folds \d and \d/);
    expect(bad((o) => {
      for (const it of o.items) if (it.fold === o.of - 1) it.fold = 0;
    })).toMatch(new RegExp(`fold ${good.of - 1} of ${good.of} has no images`));
    expect(() => readFoldsFile(join(dir, 'missing.json'))).toThrow(/cannot read folds file/);
  });
});

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}
