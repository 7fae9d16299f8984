// The probe's scores (lib/probe) against references written independently in Python
// (test/fixtures/probe_reference.py: scipy's sqrtm for the Fréchet distance, numpy for
// MMD and LogME as published, scipy's wasserstein_distance, numpy's eigvalsh). Skips
// visibly without python3, numpy and scipy.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { covariance, fromRows, symmetricEigen } from '../../lib/probe/linalg.js';
import { gainsAsRelevance, kendallTau, ndcg } from '../../lib/probe/rank-agreement.js';
import { emd1d, frechetDistance, knnAccuracy, logme, meanCosine, mmd2 } from '../../lib/probe/scores.js';
import { Rng } from '../../lib/util/rng.js';
import { runChecked } from '../helpers/process.js';
import { PYTHON, ROOT, oracleSkip, pythonOracleMissing } from '../helpers/python.js';

const skip = oracleSkip('probe score references', pythonOracleMissing(['numpy', 'scipy']));

/** `n` feature rows of `d` dims: correlated Gaussian features (ReLU'd like pooled CNN features), shifted by `shift`. */
function features(rng: Rng, n: number, d: number, shift: number): number[][] {
  const mix = Array.from({ length: d }, () => Array.from({ length: d }, () => rng.nextGaussian() * 0.4));
  return Array.from({ length: n }, () => {
    const z = Array.from({ length: d }, () => rng.nextGaussian());
    return mix.map((row, j) => Math.max(0, row.reduce((s, w, k) => s + w * z[k]!, 0) + shift + 0.3 * j / d));
  });
}

describe.skipIf(skip)('probe scores against the Python references', () => {
  it.each([
    [60, 8, 1],
    [120, 24, 2],
    [30, 48, 3],
  ])('Fréchet distance, MMD, cosine, LogME, EMD and eigenvalues (n %i, d %i, seed %i)', async (n, d, seed) => {
    const rng = new Rng(seed);
    const a = features(rng, n, d, 0.2);
    const b = features(rng, n + 7, d, 0.5);
    const labels = a.map((row) => (row[0]! + row[1]! > 0.6 ? 1 : 0) + (row[2]! > 0.8 ? 1 : 0));
    const u = Array.from({ length: 300 }, () => Math.round(rng.nextFloat() * 255));
    const v = Array.from({ length: 250 }, () => Math.round(80 + rng.nextGaussian() * 40));
    const ref = JSON.parse(
      await runChecked(PYTHON, [join(ROOT, 'test', 'fixtures', 'probe_reference.py')], { input: JSON.stringify({ a, b, labels, u, v }) }),
    ) as { frechet: number; mmd2: number; cosine: number; logme: number; emd: number; eigen: number[] };
    const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-12);
    expect(rel(frechetDistance(a, b), ref.frechet)).toBeLessThan(1e-6);
    expect(rel(mmd2(a, b), ref.mmd2)).toBeLessThan(1e-9);
    expect(meanCosine(a, b)).toBeCloseTo(ref.cosine, 12);
    expect(rel(logme(a, labels), ref.logme)).toBeLessThan(1e-6);
    expect(emd1d(u, v)).toBeCloseTo(ref.emd, 9);
    const eig = [...symmetricEigen(covariance(fromRows(a))).values].sort((x, y) => x - y);
    eig.forEach((e, i) => expect(Math.abs(e - ref.eigen[i]!)).toBeLessThan(1e-9 * Math.max(1, Math.abs(ref.eigen.at(-1)!))));
  }, 60_000);
});

describe('probe scores, without references', () => {
  it('a set against itself: Fréchet distance 0, cosine 1; a shift grows both distances', () => {
    const rng = new Rng(4);
    const a = features(rng, 80, 6, 0.2);
    expect(Math.abs(frechetDistance(a, a))).toBeLessThan(1e-9);
    expect(meanCosine(a, a)).toBeCloseTo(1, 12);
    const near = features(new Rng(5), 80, 6, 0.25);
    const far = features(new Rng(5), 80, 6, 1.5);
    expect(frechetDistance(a, far)).toBeGreaterThan(frechetDistance(a, near));
    expect(mmd2(a, far)).toBeGreaterThan(mmd2(a, near));
    expect(emd1d([0, 1, 2], [0, 1, 2])).toBe(0);
    expect(emd1d([0, 0], [1, 1])).toBe(1);
  });

  it('the Fréchet distance from the samples (fewer samples than features) equals the one from the covariances', () => {
    // 30 x 40 features: the sample form; the same features padded to 30 x 20 + 20 zeros keep
    // the distance, and the 20-dimensional part alone takes the covariance form
    const rng = new Rng(12);
    const a = features(rng, 30, 20, 0.1);
    const b = features(rng, 25, 20, 0.4);
    const pad = (rows: number[][]) => rows.map((r) => [...r, ...new Array<number>(20).fill(0)]);
    // (square roots of eigenvalues that are 0 up to rounding: about 1e-8 absolute)
    const close = (x: number, y: number) => expect(Math.abs(x - y) / y).toBeLessThan(1e-7);
    close(frechetDistance(pad(a), pad(b)), frechetDistance(a, b));
    close(frechetDistance(pad(a.slice(0, 12)), pad(b)), frechetDistance(a.slice(0, 12), b));
  });

  it('k-NN accuracy: leave-one-out, with a patient\'s own images left out of its neighbours', () => {
    // two tight clusters, labels follow the clusters: perfect; labels follow patients instead,
    // and each patient's images sit together: only its own images could vote for it
    const feats = [[1, 0], [1, 0.01], [1, 0.02], [0, 1], [0.01, 1], [0.02, 1]];
    expect(knnAccuracy(feats, [0, 0, 0, 1, 1, 1], 2)).toBe(1);
    expect(knnAccuracy(feats, [0, 0, 0, 1, 1, 1], 2, ['a', 'a', 'a', 'b', 'b', 'b'])).toBe(0);
    expect(knnAccuracy(feats, [0, 0, 0, 1, 1, 1], 2, ['a', 'b', 'c', 'd', 'e', 'f'])).toBe(1);
  });

  it('LogME is higher for features that carry the labels', () => {
    const rng = new Rng(9);
    const labels = Array.from({ length: 100 }, (_, i) => i % 2);
    const informative = labels.map((l) => [l + 0.3 * rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()]);
    const noise = labels.map(() => [rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()]);
    expect(logme(informative, labels)).toBeGreaterThan(logme(noise, labels));
  });
});

const rankSkip = oracleSkip('rank agreement references', pythonOracleMissing(['numpy', 'scipy', 'sklearn']));

describe.skipIf(rankSkip)('rank agreement against scipy and sklearn', () => {
  it('Kendall tau-b equals scipy.stats.kendalltau and NDCG equals sklearn.metrics.ndcg_score, ties included', async () => {
    const rng = new Rng(21);
    const cases = [
      { x: [0.1, 0.4, 0.35, 0.8, 0.2], y: [1, 3, 2, 5, 0.5] },
      { x: [1, 1, 2, 3, 3, 4, 0], y: [0.2, 0.1, 0.4, 0.4, 0.9, 0.3, 0] },
      { x: Array.from({ length: 9 }, () => Math.round(rng.nextFloat() * 4)), y: Array.from({ length: 9 }, () => rng.nextFloat()) },
    ];
    const code = [
      'import json, sys', 'from scipy.stats import kendalltau', 'from sklearn.metrics import ndcg_score',
      'cases = json.load(sys.stdin)',
      'print(json.dumps([[kendalltau(c["x"], c["y"])[0], ndcg_score([c["rel"]], [c["x"]])] for c in cases]))',
    ].join('\n');
    const withRel = cases.map((c) => ({ ...c, rel: gainsAsRelevance(c.y) }));
    const ref = JSON.parse(await runChecked(PYTHON, ['-c', code], { input: JSON.stringify(withRel) })) as [number, number][];
    withRel.forEach((c, i) => {
      expect(kendallTau(c.x, c.y)).toBeCloseTo(ref[i]![0], 12);
      expect(ndcg(c.x, c.rel)).toBeCloseTo(ref[i]![1], 12);
    });
  }, 60_000);

  it('perfect and reversed orders; bad input refused', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(Number.isNaN(kendallTau([1, 1, 1], [1, 2, 3]))).toBe(true);
    expect(ndcg([3, 2, 1], [1, 0.5, 0])).toBe(1);
    expect(ndcg([1, 2, 3], [1, 0.5, 0])).toBeLessThan(1);
    expect(gainsAsRelevance([-0.1, 0.1, 0.3])).toEqual([0, 0.5, 1]);
    expect(() => ndcg([1, 2], [1])).toThrow(/2 predictions against 1/);
    expect(() => ndcg([1, 2], [-1, 1])).toThrow(/non-negative/);
  });
});
