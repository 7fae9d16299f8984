// lib/stats against references written independently in Python
// (test/fixtures/stats_reference.py): DeLong by Sun & Xu's midrank algorithm, McNemar by
// scipy's binomtest, Holm, and the cluster bootstrap replayed with the same PRNG and
// sklearn's metrics. Skips visibly without python3, numpy, scipy and sklearn.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { argmax } from '../../lib/stats/metrics.js';
import { Rng } from '../../lib/util/rng.js';
import { bootstrapRun, clustersOf, pairedBootstrap, percentile, type ScoredImage } from '../../lib/stats/bootstrap.js';
import { delongTest, holm, mcnemarExact } from '../../lib/stats/tests.js';
import { runChecked } from '../helpers/process.js';
import { PYTHON, ROOT, oracleSkip, pythonOracleMissing } from '../helpers/python.js';

const skip = oracleSkip('stats reference tests', pythonOracleMissing(['numpy', 'scipy', 'sklearn']));

/** A test set of `n` images from `patients` patients, two correlated classifiers with tied scores. */
function sample(n: number, patients: number, seed: number) {
  const rng = new Rng(seed);
  const images: { label: number; group: string; a: number; b: number }[] = [];
  for (let i = 0; i < n; i++) {
    const patient = rng.nextInt(patients);
    const label = patient % 3 === 0 ? 1 : rng.nextFloat() < 0.3 ? 1 : 0;
    const signal = label === 1 ? 0.6 : -0.6;
    const shared = rng.nextGaussian();
    const sig = (x: number) => Math.round(100 / (1 + Math.exp(-x))) / 100; // 2 decimals: ties
    images.push({ label, group: `P${patient}`, a: sig(signal + shared + 0.8 * rng.nextGaussian()), b: sig(1.5 * signal + shared + 0.8 * rng.nextGaussian()) });
  }
  return images;
}

const asScored = (xs: ReturnType<typeof sample>, key: 'a' | 'b'): ScoredImage[] =>
  xs.map((x, i) => ({ file: `img${i}.jpg`, group: x.group, label: x.label, probs: [1 - x[key], x[key]] }));

describe.skipIf(skip)('statistics against the Python references', () => {
  it.each([
    [300, 60, 1],
    [120, 25, 7],
  ])('DeLong and McNemar p-values to 1e-6, Holm, and the cluster bootstrap (n %i, %i patients, seed %i)', async (n, patients, seed) => {
    const xs = sample(n, patients, seed);
    const isPositive = xs.map((x) => x.label === 1);
    const correctA = xs.map((x) => argmax([1 - x.a, x.a]) === x.label);
    const correctB = xs.map((x) => argmax([1 - x.b, x.b]) === x.label);
    const ps = [0.01, 0.04, 0.03, 0.2, 0.0001, 0.04];
    const replicates = 300;
    const ref = JSON.parse(
      await runChecked(PYTHON, [join(ROOT, 'test', 'fixtures', 'stats_reference.py')], {
        input: JSON.stringify({
          labels: xs.map((x) => x.label),
          a: xs.map((x) => x.a),
          b: xs.map((x) => x.b),
          correctA,
          correctB,
          ps,
          groups: xs.map((x) => x.group),
          probs: xs.map((x) => [1 - x.a, x.a]),
          seed: 99,
          replicates,
          level: 0.95,
        }),
      }),
    ) as {
      delong: { aucA: number; aucB: number; z: number; p: number };
      mcnemar: { onlyA: number; onlyB: number; p: number };
      holm: number[];
      bootstrap: Record<'accuracy' | 'macroF1' | 'auc', [number, number]>;
    };

    const d = delongTest(isPositive, xs.map((x) => x.a), xs.map((x) => x.b))!;
    expect(d.aucA).toBeCloseTo(ref.delong.aucA, 12);
    expect(d.aucB).toBeCloseTo(ref.delong.aucB, 12);
    expect(d.z).toBeCloseTo(ref.delong.z, 9);
    expect(Math.abs(d.p - ref.delong.p)).toBeLessThan(1e-6);
    expect(d.p).toBeGreaterThan(1e-6); // a p-value that tells something, not 0 or 1
    expect(d.p).toBeLessThan(0.999);

    // McNemar on argmax predictions (the probabilities [1 - a, a]; a tie goes to class 0)
    const m = mcnemarExact(correctA, correctB);
    expect([m.onlyA, m.onlyB]).toEqual([ref.mcnemar.onlyA, ref.mcnemar.onlyB]);
    expect(Math.abs(m.p - ref.mcnemar.p)).toBeLessThan(1e-6);

    const h = holm(ps);
    h.forEach((p, i) => expect(p).toBeCloseTo(ref.holm[i]!, 14));

    // the same resamples, drawn in Python with the same PRNG: the same interval
    const images = xs.map((x, i) => ({ file: `img${i}.jpg`, group: x.group, label: x.label, probs: [1 - x.a, x.a] }));
    const boot = bootstrapRun(images, 2, { replicates, seed: 99, level: 0.95 });
    expect(boot.by).toBe('patient');
    expect(boot.clusters).toBe(new Set(xs.map((x) => x.group)).size);
    for (const k of ['accuracy', 'macroF1', 'auc'] as const) {
      expect(boot.intervals[k]!.lo, k).toBeCloseTo(ref.bootstrap[k][0], 12);
      expect(boot.intervals[k]!.hi, k).toBeCloseTo(ref.bootstrap[k][1], 12);
    }
  }, 60_000);
});

describe('statistics, without references', () => {
  it('a bootstrap interval is reproducible for a seed and moves with it', () => {
    const xs = sample(150, 30, 3);
    const images = asScored(xs, 'a');
    const one = bootstrapRun(images, 2, { replicates: 200, seed: 5, level: 0.95 });
    expect(bootstrapRun(images, 2, { replicates: 200, seed: 5, level: 0.95 })).toEqual(one);
    expect(bootstrapRun(images, 2, { replicates: 200, seed: 6, level: 0.95 })).not.toEqual(one);
    const acc = one.intervals.accuracy!;
    expect(acc.lo).toBeLessThanOrEqual(acc.estimate);
    expect(acc.hi).toBeGreaterThanOrEqual(acc.estimate);
  });

  it('images without patients are resampled one by one', () => {
    const images = asScored(sample(20, 5, 3), 'a').map((im) => ({ ...im, group: '' }));
    expect(clustersOf(images)).toMatchObject({ by: 'image' });
    expect(clustersOf(images).clusters).toHaveLength(20);
  });

  it('paired bootstrap: B - A with one resample for both, a run against itself differs by exactly 0', () => {
    const xs = sample(200, 40, 11);
    const a = asScored(xs, 'a');
    const b = asScored(xs, 'b');
    const same = pairedBootstrap([{ a, b: a }], 2, { replicates: 100, seed: 1, level: 0.95 });
    expect(same.accuracy).toEqual({ estimate: 0, lo: 0, hi: 0, p: 1 });
    const d = pairedBootstrap([{ a, b }], 2, { replicates: 300, seed: 1, level: 0.95 });
    const auc = delongTest(xs.map((x) => x.label === 1), xs.map((x) => x.a), xs.map((x) => x.b))!;
    expect(d.auc!.estimate).toBeCloseTo(auc.difference, 12);
    expect(d.auc!.lo).toBeLessThan(d.auc!.estimate);
    expect(d.auc!.hi).toBeGreaterThan(d.auc!.estimate);
  });

  it('edge cases: no discordant pairs, one class, percentiles as numpy', () => {
    expect(mcnemarExact([true, false], [true, false]).p).toBe(1);
    expect(delongTest([true, true, false], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])).toBeNull();
    expect(holm([0.01, null, 0.02])).toEqual([0.02, null, 0.02]);
    expect(percentile([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
  });
});
