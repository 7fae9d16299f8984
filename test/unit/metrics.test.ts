import { runChecked } from '../helpers/process.js';
import { PYTHON, oracleSkip, pythonOracleMissing } from '../helpers/python.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { argmax, binaryAuc, classificationReport, confusionMatrix, rocCurve } from '../../lib/stats/metrics.js';
import { Rng } from '../../lib/util/rng.js';

const binaryProbs = (scores: number[]): number[][] => scores.map((s) => [1 - s, s]);

describe('classificationReport: hand-worked binary case', () => {
  // y = [0,0,1,1], p1 = [0.1,0.4,0.35,0.8]: the textbook AUC = 0.75 example.
  const r = classificationReport([0, 0, 1, 1], binaryProbs([0.1, 0.4, 0.35, 0.8]), ['benign', 'malignant']);

  it('counts and per-class metrics', () => {
    expect(r.n).toBe(4);
    expect(r.confusion).toEqual([[2, 0], [1, 1]]);
    expect(r.accuracy).toBe(0.75);
    const [b, m] = r.perClass;
    expect(b).toMatchObject({ name: 'benign', recall: 1, support: 2 });
    expect(b!.precision).toBeCloseTo(2 / 3, 15);
    expect(b!.f1).toBeCloseTo(0.8, 15);
    expect(m).toMatchObject({ name: 'malignant', precision: 1, recall: 0.5, support: 2 });
    expect(m!.f1).toBeCloseTo(2 / 3, 15);
    expect(r.macro.precision).toBeCloseTo(5 / 6, 15);
    expect(r.macro.recall).toBeCloseTo(0.75, 15);
    expect(r.macro.f1).toBeCloseTo(11 / 15, 15);
  });

  it('AUC and ROC points', () => {
    expect(r.auc).toBe(0.75);
    expect(r.roc).toEqual({
      fpr: [0, 0, 0.5, 0.5, 1],
      tpr: [0, 0.5, 0.5, 1, 1],
      thresholds: [Infinity, 0.8, 0.4, 0.35, 0.1],
    });
  });
});

describe('classificationReport: edge cases', () => {
  it('all-tied scores give AUC 0.5, and the never-predicted class has zero-division metrics = 0', () => {
    const r = classificationReport([0, 1, 0, 1, 1], binaryProbs([0.5, 0.5, 0.5, 0.5, 0.5]), ['a', 'b']);
    expect(r.auc).toBe(0.5);
    expect(r.confusion).toEqual([[2, 0], [3, 0]]); // argmax tie -> class 0
    expect(r.perClass[1]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 3 });
    expect(r.roc).toEqual({ fpr: [0, 1], tpr: [0, 1], thresholds: [Infinity, 0.5] });
  });

  it('perfect and inverted predictions', () => {
    const y = [0, 1, 0, 1, 1, 0];
    const good = classificationReport(y, binaryProbs([0.1, 0.9, 0.2, 0.8, 0.7, 0.3]), ['a', 'b']);
    expect(good.accuracy).toBe(1);
    expect(good.auc).toBe(1);
    expect(good.macro).toEqual({ precision: 1, recall: 1, f1: 1 });
    const bad = classificationReport(y, binaryProbs([0.9, 0.1, 0.8, 0.2, 0.3, 0.7]), ['a', 'b']);
    expect(bad.accuracy).toBe(0);
    expect(bad.auc).toBe(0);
    expect(bad.macro).toEqual({ precision: 0, recall: 0, f1: 0 });
  });

  it('AUC and ROC are null when labels hold a single class', () => {
    const r = classificationReport([1, 1, 1], binaryProbs([0.2, 0.6, 0.9]), ['a', 'b']);
    expect(r.auc).toBeNull();
    expect(r.roc).toBeNull();
    expect(r.perClass[0]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 0 });
  });

  it('multi-class: confusion, macro metrics and one-vs-rest macro AUC', () => {
    const probs = [
      [0.7, 0.2, 0.1],
      [0.2, 0.3, 0.5],
      [0.1, 0.2, 0.7],
      [0.3, 0.4, 0.3],
    ];
    const r = classificationReport([0, 1, 2, 2], probs, ['x', 'y', 'z']);
    expect(r.confusion).toEqual([[1, 0, 0], [0, 0, 1], [0, 1, 1]]);
    expect(r.accuracy).toBe(0.5);
    expect(r.perClass.map((c) => c.f1)).toEqual([1, 0, 0.5]);
    expect(r.macro).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5 });
    // Per-class AUCs 1, 2/3, 3/4 (counted by hand).
    expect(r.auc).toBeCloseTo(29 / 36, 15);
    expect(r.roc).toBeNull();
  });

  it('multi-class AUC is null when a class is missing from labels', () => {
    const r = classificationReport([0, 1, 1], [[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]], ['x', 'y', 'z']);
    expect(r.auc).toBeNull();
  });
});

describe('input validation and helpers', () => {
  it('rejects bad inputs with clear errors', () => {
    const names = ['a', 'b'];
    expect(() => classificationReport([0, 1], [[0.5, 0.5]], names)).toThrow(/differ in length/);
    expect(() => classificationReport([0, 2], binaryProbs([0.1, 0.2]), names)).toThrow(/labels\[1\] = 2/);
    expect(() => classificationReport([0, 0.5], binaryProbs([0.1, 0.2]), names)).toThrow(/labels\[1\]/);
    expect(() => classificationReport([0, 1], [[0.5, NaN], [0.5, 0.5]], names)).toThrow(/probs\[0\]\[1\] = NaN/);
    expect(() => classificationReport([0, 1], [[0.5, 0.5], [1]], names)).toThrow(/probs\[1\] has 1 entries/);
    expect(() => classificationReport([], [], names)).toThrow(/at least one sample/);
    expect(() => classificationReport([0], [[1]], ['only'])).toThrow(/at least 2 class names/);
    expect(() => binaryAuc([true], [0.1, 0.2])).toThrow(/1 labels but 2 scores/);
  });

  it('argmax picks the first maximum; helpers agree with the report', () => {
    expect(argmax([0.2, 0.4, 0.4])).toBe(1);
    expect(confusionMatrix([0, 1, 1], [1, 1, 0], 2)).toEqual([[0, 1], [1, 1]]);
    expect(binaryAuc([false, true], [0.3, 0.3])).toBe(0.5);
    expect(rocCurve([false, false], [0.1, 0.2])).toBeNull();
  });
});

// ---- comparison against scikit-learn -------------------------------------

const SCRIPT = fileURLToPath(new URL('../fixtures/sklearn_metrics.py', import.meta.url));

const sklearnSkip = oracleSkip('agreement with scikit-learn', pythonOracleMissing(['sklearn', 'numpy']));

interface Case {
  labels: number[];
  probs: number[][];
}

/** Probabilities in steps of 1/units (so ties are common), biased toward the true class. */
function randomCase(rng: Rng, n: number, k: number, units: number): Case {
  const labels: number[] = [];
  const probs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.nextInt(k);
    const counts = new Array<number>(k).fill(0);
    for (let u = 0; u < units; u++) {
      const c = rng.nextFloat() < 0.12 ? y : rng.nextInt(k);
      counts[c] = (counts[c] as number) + 1;
    }
    labels.push(y);
    probs.push(counts.map((c) => c / units));
  }
  return { labels, probs };
}

interface SkResult {
  accuracy: number;
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  macro: { precision: number; recall: number; f1: number };
  confusion: number[][];
  auc: number | null;
  roc: { fpr: number[]; tpr: number[]; thresholds: (number | null)[] } | null;
}

async function runSklearn(cases: Case[]): Promise<SkResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'thtl-metrics-'));
  try {
    const input = join(dir, 'in.json');
    const output = join(dir, 'out.json');
    writeFileSync(input, JSON.stringify(cases));
    await runChecked(PYTHON, [SCRIPT, input, output]);
    return JSON.parse(readFileSync(output, 'utf8')) as SkResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const expectClose = (a: number[], b: number[]): void => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - (b[i] as number))).toBeLessThanOrEqual(1e-12));
};

function compareCase(c: Case, sk: SkResult): void {
  const k = c.probs[0]!.length;
  const r = classificationReport(c.labels, c.probs, Array.from({ length: k }, (_, i) => `c${i}`));
  expect(r.confusion).toEqual(sk.confusion);
  expect(r.perClass.map((m) => m.support)).toEqual(sk.support);
  expectClose([r.accuracy], [sk.accuracy]);
  expectClose(r.perClass.map((m) => m.precision), sk.precision);
  expectClose(r.perClass.map((m) => m.recall), sk.recall);
  expectClose(r.perClass.map((m) => m.f1), sk.f1);
  expectClose([r.macro.precision, r.macro.recall, r.macro.f1], [sk.macro.precision, sk.macro.recall, sk.macro.f1]);
  if (sk.auc === null) expect(r.auc).toBeNull();
  else expectClose([r.auc as number], [sk.auc]);
  if (sk.roc === null) {
    expect(r.roc).toBeNull();
    return;
  }
  expect(r.roc).not.toBeNull();
  expectClose(r.roc!.fpr, sk.roc.fpr);
  expectClose(r.roc!.tpr, sk.roc.tpr);
  // First threshold: ours is Infinity; sklearn 1.2 writes max+1 (>= 1.3: inf).
  expect(r.roc!.thresholds[0]).toBe(Infinity);
  expectClose(r.roc!.thresholds.slice(1), sk.roc.thresholds.slice(1) as number[]);
}

describe.skipIf(sklearnSkip)('agreement with scikit-learn', () => {
  it('matches sklearn on seeded random binary and 5-class cases', async () => {
    const rng = new Rng(2024);
    const cases: Case[] = [];
    for (let i = 0; i < 6; i++) cases.push(randomCase(rng, 20 + rng.nextInt(60), 2, i % 2 ? 10 : 100));
    for (let i = 0; i < 5; i++) cases.push(randomCase(rng, 30 + rng.nextInt(70), 5, i % 2 ? 10 : 20));
    // A class absent from labels: sklearn refuses AUC, we report null.
    cases.push({ labels: [0, 0, 0], probs: [[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]] });
    const reference = await runSklearn(cases);
    expect(reference).toHaveLength(cases.length);
    cases.forEach((c, i) => compareCase(c, reference[i] as SkResult));
    // Sanity: the random cases really exercise ties and non-trivial AUCs.
    expect(reference.filter((s) => s.auc !== null && s.auc > 0.5 && s.auc < 1).length).toBeGreaterThanOrEqual(10);
  });
});
