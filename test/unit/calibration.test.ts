// lib/stats/calibration.ts and the graded-label metrics of lib/stats/metrics.ts against
// references written independently in Python (test/fixtures/calibration_reference.py):
// torchmetrics' calibration binning re-done in numpy, sklearn's brier_score_loss,
// cohen_kappa_score(weights='quadratic') and roc_auc_score, and scipy's bounded
// minimize_scalar for the temperature. Skips visibly without python3, numpy, scipy and sklearn.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  binaryCalibrationError,
  binaryReliabilityBins,
  binIndex,
  brierScore,
  calibrationError,
  fitTemperature,
  logitsFromProbs,
  multiclassBrier,
  reliabilityBins,
  temperatureNll,
} from '../../lib/stats/calibration.js';
import { oneVsRestAuc, quadraticWeightedKappa } from '../../lib/stats/metrics.js';
import { Rng } from '../../lib/util/rng.js';
import { runChecked } from '../helpers/process.js';
import { PYTHON, ROOT, oracleSkip, pythonOracleMissing } from '../helpers/python.js';

const softmax = (z: readonly number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('calibration: hand-worked cases', () => {
  // bins 5: confidences 0.8 (bin [0.8, 1)), 0.6 (edge: bin [0.6, 0.8)), 1 (slot [1, 1]), 0.5 (tie, argmax 0).
  const probs = [[0.8, 0.2], [0.6, 0.4], [1, 0], [0.5, 0.5]];
  const labels = [0, 1, 0, 1];

  it('ECE, MCE and the reliability bins', () => {
    expect(calibrationError(probs, labels, { bins: 5 })).toBeCloseTo((0.2 + 0.6 + 0 + 0.5) / 4, 15);
    expect(calibrationError(probs, labels, { bins: 5, norm: 'max' })).toBeCloseTo(0.6, 15);
    const bins = reliabilityBins(probs, labels, 5);
    expect(bins).toHaveLength(6);
    expect(bins.map((b) => b.count)).toEqual([0, 0, 1, 1, 1, 1]);
    expect(bins[5]).toEqual({ lo: 1, hi: 1, count: 1, accuracy: 1, confidence: 1 });
    expect(bins[3]).toMatchObject({ lo: 0.6, hi: 0.8, accuracy: 0, confidence: 0.6 });
    expect(bins[0]!.accuracy).toBeNaN();
    expect(reliabilityBins(probs, labels)).toHaveLength(16);
  });

  it('bin edges: a boundary goes up, 0 to bin 0, 1 to its own slot', () => {
    expect(binIndex(0, 15)).toBe(0);
    expect(binIndex(1, 15)).toBe(15);
    for (let k = 0; k <= 15; k++) expect(binIndex(k / 15, 15)).toBe(k);
    expect(binIndex(0.4, 15)).toBe(6);
    expect(binIndex(0.39999999999999997, 15)).toBe(5);
    for (let k = 0; k <= 10; k++) expect(binIndex(k / 10, 10)).toBe(k);
    // 0.3 * 10 rounds up to 3.0000000000000004; 0.7 * 10 to 7.000000000000001: still exact bins.
    expect(binIndex(0.3, 10)).toBe(3);
    expect(binIndex(0.7, 10)).toBe(7);
  });

  it('binary (positive-class) calibration error', () => {
    // bins 2: p 0 -> [0, 0.5), 0.5 -> [0.5, 1), 1 -> [1, 1].
    const scores = [0, 0.5, 0.5, 1];
    const y = [0, 1, 0, 0];
    expect(binaryCalibrationError(scores, y, { bins: 2 })).toBeCloseTo(0 + 0 + 0.25, 15);
    expect(binaryCalibrationError(scores, y, { bins: 2, norm: 'max' })).toBe(1);
    expect(binaryReliabilityBins(scores, y, 2).map((b) => b.count)).toEqual([1, 2, 1]);
  });

  it('Brier: binary is half the multiclass sum form for two columns', () => {
    const p = [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]];
    const y = [0, 1, 1];
    expect(brierScore(p, y)).toBeCloseTo((0.01 + 0.04 + 0.25) / 3, 15);
    expect(multiclassBrier(p, y)).toBeCloseTo((2 * (0.01 + 0.04 + 0.25)) / 3, 15);
    expect(multiclassBrier([[0.7, 0.2, 0.1]], [1])).toBeCloseTo(0.49 + 0.64 + 0.01, 15);
    expect(() => brierScore([[0.7, 0.2, 0.1]], [1])).toThrow(/multiclassBrier/);
  });

  it('kappa and one-vs-rest AUC by hand', () => {
    expect(quadraticWeightedKappa([0, 1, 2, 3], [0, 1, 2, 3])).toBe(1);
    expect(quadraticWeightedKappa([2, 2, 2], [2, 2, 2])).toBeNaN();
    expect(quadraticWeightedKappa([0, 0], [1, 1], 2)).toBe(0);
    // Without numClasses an absent grade closes the gap: 0 and 4 are adjacent, so the weights differ.
    expect(quadraticWeightedKappa([0, 1, 4, 4], [1, 0, 4, 1])).toBeCloseTo(0.4, 15); // sklearn: 0.4
    expect(quadraticWeightedKappa([0, 1, 4, 4], [1, 0, 4, 1], 5)).toBeCloseTo(0.5416666666666667, 15); // labels=range(5)
    const auc = oneVsRestAuc([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]], [0, 1, 2, 2]);
    expect(auc[0]).toBe(1);
    expect(auc[1]).toBeCloseTo(2 / 3, 15);
    expect(auc[2]).toBe(0.75);
    expect(oneVsRestAuc([[0.5, 0.5], [0.4, 0.6]], [1, 1])).toEqual([NaN, NaN]);
  });

  it('temperature: scale equivariance, stored probabilities, constant rows and bounds', () => {
    const rng = new Rng(5);
    const labels: number[] = [];
    const logits: number[][] = [];
    for (let i = 0; i < 200; i++) {
      const y = rng.nextInt(3);
      labels.push(y);
      logits.push([0, 1, 2].map((c) => 2.5 * ((c === y ? 1 : 0) + rng.nextGaussian())));
    }
    const fit = fitTemperature(logits, labels);
    expect(fit.atBound).toBe(false);
    expect(fit.nllAfter).toBeLessThanOrEqual(fit.nllBefore);
    expect(fit.nllBefore).toBeCloseTo(temperatureNll(logits, labels, 1), 14);
    expect(fit.nllAfter).toBeCloseTo(temperatureNll(logits, labels, fit.temperature), 14);
    const scaled = fitTemperature(logits.map((r) => r.map((z) => 2 * z)), labels);
    expect(scaled.temperature).toBeCloseTo(2 * fit.temperature, 9);
    // log of the softmax is the logits up to a per-row constant: same T.
    const fromProbs = fitTemperature(logitsFromProbs(logits.map(softmax)), labels);
    expect(fromProbs.temperature).toBeCloseTo(fit.temperature, 9);
    expect(fitTemperature([[1, 1], [3, 3]], [0, 1])).toMatchObject({ temperature: 1, atBound: false });
    // Separated logits: the NLL keeps falling as T -> 0, so the lower bound is returned.
    expect(fitTemperature([[2, 0], [0, 2]], [0, 1])).toMatchObject({ temperature: 0.05, atBound: true });
    expect(fitTemperature([[2, 0], [0, 2]], [0, 1], { min: 0.5, max: 3 }).temperature).toBe(0.5);
    expect(logitsFromProbs([[0, 1]])).toEqual([[Math.log(1e-12), 0]]);
  });

  it('rejects bad inputs', () => {
    expect(() => calibrationError([[0.5, 0.5]], [0, 1])).toThrow(/1 probability rows but 2 labels/);
    expect(() => calibrationError([[0.5, 1.5]], [0])).toThrow(/probs\[0\]\[1\] = 1.5 is not a probability/);
    expect(() => calibrationError([[0.5, 0.5]], [2])).toThrow(/labels\[0\] = 2/);
    expect(() => calibrationError([[0.5, 0.5]], [0], { bins: 0 })).toThrow(/bins must be/);
    expect(() => calibrationError([[0.5, 0.5]], [0], { norm: 'l2' as 'l1' })).toThrow(/norm/);
    expect(() => calibrationError([], [])).toThrow(/at least one sample/);
    expect(() => binaryCalibrationError([0.5], [2])).toThrow(/labels\[0\] = 2/);
    expect(() => fitTemperature([[0, NaN]], [0])).toThrow(/not a finite number/);
    expect(() => quadraticWeightedKappa([0, 1], [0])).toThrow(/differ in length/);
    expect(() => quadraticWeightedKappa([0, 5], [0, 1], 3)).toThrow(/labels\[1\] = 5/);
  });
});

// ---- against the Python reference --------------------------------------------

const skip = oracleSkip('calibration reference tests', pythonOracleMissing(['numpy', 'scipy', 'sklearn']));

interface Reference {
  topLabel: { ece: number; mce: number; counts: number[] }[];
  binary: { ece: number; mce: number; counts: number[] }[];
  brier: { multiclass: number; binary: number | null }[];
  kappa: (number | null)[];
  ovr: (number | null)[][];
  temperature: { temperature: number; nllBefore: number; nllAfter: number }[];
}

/** Rows of `units` counts over k classes (probabilities in steps of 1 / units: ties, edges, 1s), biased to the label. */
function quantized(rng: Rng, n: number, k: number, units: number, bias: number): { probs: number[][]; labels: number[] } {
  const probs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.nextInt(k);
    const counts = new Array<number>(k).fill(0);
    // Some rows put every unit on one class (confidence exactly 1).
    const peaked = rng.nextFloat() < 0.1;
    const target = rng.nextFloat() < 0.7 ? y : rng.nextInt(k);
    for (let u = 0; u < units; u++) {
      const c = peaked || rng.nextFloat() < bias ? target : rng.nextInt(k);
      counts[c] = (counts[c] as number) + 1;
    }
    labels.push(y);
    probs.push(counts.map((c) => c / units));
  }
  return { probs, labels };
}

/** Softmax of Gaussian logits with the signal on the label (continuous confidences). */
function continuous(rng: Rng, n: number, k: number, sharpness: number): { probs: number[][]; labels: number[]; logits: number[][] } {
  const labels: number[] = [];
  const logits: number[][] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.nextInt(k);
    labels.push(y);
    logits.push(Array.from({ length: k }, (_, c) => sharpness * ((c === y ? 1.2 : 0) + rng.nextGaussian())));
  }
  return { probs: logits.map(softmax), labels, logits };
}

function gradedPairs(rng: Rng, n: number, grades: number[], noise: number): { y1: number[]; y2: number[] } {
  const y1: number[] = [];
  const y2: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.nextInt(grades.length);
    const b = Math.min(grades.length - 1, Math.max(0, a + Math.round(noise * rng.nextGaussian())));
    y1.push(grades[a] as number);
    y2.push(grades[b] as number);
  }
  return { y1, y2 };
}

const close = (ours: number, ref: number | null, tol: number): void => {
  if (ref === null) {
    expect(ours).toBeNaN();
    return;
  }
  expect(Math.abs(ours - ref)).toBeLessThanOrEqual(tol);
};

describe.skipIf(skip)('calibration against the Python reference', () => {
  it('ECE, MCE, bins, Brier, kappa, one-vs-rest AUC and the temperature on seeded cases', async () => {
    const rng = new Rng(20240611);
    const topLabel: { probs: number[][]; labels: number[]; bins: number }[] = [];
    for (const k of [2, 5]) {
      topLabel.push({ ...quantized(rng, 120, k, 15, 0.5), bins: 15 }); // every p is j / 15: confidences on edges
      topLabel.push({ ...quantized(rng, 90, k, 30, 0.4), bins: 15 }); // j / 30: every other one on an edge
      topLabel.push({ ...quantized(rng, 80, k, 20, 0.4), bins: 10 });
      topLabel.push({ ...quantized(rng, 12, k, 7, 0.3), bins: 15 }); // few samples: mostly empty bins
      const c = continuous(rng, 150, k, 1.5);
      topLabel.push({ probs: c.probs, labels: c.labels, bins: 15 });
    }
    topLabel.push({ probs: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], labels: [0, 2, 2], bins: 15 }); // all confidences 1

    const binary: { scores: number[]; labels: number[]; bins: number }[] = [];
    for (const bins of [15, 10]) {
      const q = quantized(rng, 100, 2, bins, 0.4); // p in steps of 1 / bins, 0 and 1 included
      binary.push({ scores: q.probs.map((r) => r[1] as number), labels: q.labels, bins });
    }
    const cb = continuous(rng, 120, 2, 1);
    binary.push({ scores: cb.probs.map((r) => r[1] as number), labels: cb.labels, bins: 15 });

    const brier = [topLabel[0]!, topLabel[4]!, topLabel[5]!, topLabel[9]!].map(({ probs, labels }) => ({ probs, labels }));

    const kappa: { y1: number[]; y2: number[]; numClasses: number | null }[] = [];
    for (const noise of [0.5, 1, 3]) {
      const g = gradedPairs(rng, 100, [0, 1, 2, 3, 4], noise);
      kappa.push({ ...g, numClasses: 5 }, { ...g, numClasses: null });
    }
    const gaps = gradedPairs(rng, 60, [0, 1, 3, 4], 1); // grade 2 in neither: the label lists differ
    kappa.push({ ...gaps, numClasses: 5 }, { ...gaps, numClasses: null });
    kappa.push({ y1: [3, 3, 3], y2: [3, 3, 3], numClasses: 5 }, { y1: [3, 3, 3], y2: [3, 3, 3], numClasses: null });
    kappa.push({ y1: [0, 0, 0, 0], y2: [0, 1, 0, 2], numClasses: null }, { y1: [1, 2], y2: [2, 1], numClasses: 3 });

    const ovr = [topLabel[0]!, topLabel[5]!, topLabel[8]!, topLabel[9]!].map(({ probs, labels }) => ({ probs, labels }));
    ovr.push({ probs: [[0.2, 0.3, 0.5], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]], labels: [2, 1, 2, 1] }); // class 0 absent
    ovr.push({ probs: [[0.2, 0.8], [0.6, 0.4]], labels: [1, 1] }); // one class only

    const temperature: ({ logits: number[][]; labels: number[] } | { probs: number[][]; labels: number[] })[] = [];
    for (const k of [2, 5]) {
      for (const sharpness of [3, 0.4, 1]) {
        const c = continuous(rng, 200, k, sharpness);
        temperature.push({ logits: c.logits, labels: c.labels });
      }
      const q = quantized(rng, 150, k, 20, 0.3); // stored probabilities with zeros (clipped)
      temperature.push({ probs: q.probs, labels: q.labels });
    }
    // Separated by small margins, so the NLL is still above 0 (and falling) at T = 0.05.
    const separated = { logits: [[0.3, 0], [0, 0.2], [0.1, -0.1]], labels: [0, 1, 0] };
    temperature.push(separated); // separated: lower bound

    const ref = JSON.parse(
      await runChecked(PYTHON, [join(ROOT, 'test', 'fixtures', 'calibration_reference.py')], {
        input: JSON.stringify({ topLabel, binary, brier, kappa, ovr, temperature }),
      }),
    ) as Reference;

    // The cases exercise what they are meant to: edges, ones, empty bins.
    const onInteriorEdge = topLabel.flatMap((c) => c.probs.map((r) => Math.max(...r) * c.bins)).filter((x) => Number.isInteger(x) && x > 0 && x < 15);
    expect(onInteriorEdge.length).toBeGreaterThan(50);
    expect(ref.topLabel.filter((r) => (r.counts.at(-1) as number) > 0).length).toBeGreaterThanOrEqual(4);
    expect(ref.topLabel.every((r) => r.counts.some((n) => n === 0))).toBe(true);
    expect(binary.some((c) => c.scores.includes(0)) && binary.some((c) => c.scores.includes(1))).toBe(true);

    topLabel.forEach((c, i) => {
      const r = ref.topLabel[i]!;
      expect(reliabilityBins(c.probs, c.labels, c.bins).map((b) => b.count)).toEqual(r.counts);
      close(calibrationError(c.probs, c.labels, { bins: c.bins }), r.ece, 1e-9);
      close(calibrationError(c.probs, c.labels, { bins: c.bins, norm: 'max' }), r.mce, 1e-9);
    });
    binary.forEach((c, i) => {
      const r = ref.binary[i]!;
      expect(binaryReliabilityBins(c.scores, c.labels, c.bins).map((b) => b.count)).toEqual(r.counts);
      close(binaryCalibrationError(c.scores, c.labels, { bins: c.bins }), r.ece, 1e-9);
      close(binaryCalibrationError(c.scores, c.labels, { bins: c.bins, norm: 'max' }), r.mce, 1e-9);
    });
    brier.forEach((c, i) => {
      const r = ref.brier[i]!;
      close(multiclassBrier(c.probs, c.labels), r.multiclass, 1e-9);
      if (r.binary === null) expect(() => brierScore(c.probs, c.labels)).toThrow(/2 columns/);
      else close(brierScore(c.probs, c.labels), r.binary, 1e-9);
    });
    kappa.forEach((c, i) => close(quadraticWeightedKappa(c.y1, c.y2, c.numClasses ?? undefined), ref.kappa[i]!, 1e-9));
    // The gap case really differs between numClasses and the present labels.
    expect(Math.abs(ref.kappa[6]! - ref.kappa[7]!)).toBeGreaterThan(1e-3);
    ovr.forEach((c, i) => {
      const ours = oneVsRestAuc(c.probs, c.labels);
      expect(ours).toHaveLength(ref.ovr[i]!.length);
      ours.forEach((a, k) => close(a, ref.ovr[i]![k]!, 1e-12));
    });
    temperature.forEach((c, i) => {
      const r = ref.temperature[i]!;
      const logits = 'logits' in c ? c.logits : logitsFromProbs(c.probs);
      const fit = fitTemperature(logits, c.labels);
      close(fit.temperature, r.temperature, 1e-4);
      close(fit.nllBefore, r.nllBefore, 1e-9);
      close(fit.nllAfter, r.nllAfter, 1e-7);
      expect(fit.nllAfter).toBeLessThanOrEqual(fit.nllBefore);
      expect(fit.nllAfter).toBeLessThanOrEqual(r.nllAfter + 1e-12);
    });
    // Both sides of T = 1 and the bound are covered.
    const ts = ref.temperature.map((r) => r.temperature);
    expect(ts.some((t) => t > 1.2) && ts.some((t) => t < 0.8 && t > 0.06)).toBe(true);
    expect(fitTemperature(separated.logits, separated.labels).atBound).toBe(true);
  });
});
