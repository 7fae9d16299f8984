import { describe, expect, it } from 'vitest';
import { summarize, tCritical95 } from '../../lib/report/aggregate.js';

describe('summarize', () => {
  it('one value: no std and no interval (undefined from one run)', () => {
    expect(summarize([0.7])).toEqual({ mean: 0.7, std: null, ci95: null, n: 1, values: [0.7] });
  });

  it('three values: sample std and t(0.975, 2) = 4.303', () => {
    const s = summarize([1, 2, 3]);
    expect(s.mean).toBe(2);
    expect(s.std).toBe(1); // sqrt(((1-2)^2 + 0 + (3-2)^2) / (3 - 1))
    expect(s.n).toBe(3);
    expect(s.values).toEqual([1, 2, 3]);
    const half = (4.303 * 1) / Math.sqrt(3);
    expect(s.ci95![0]).toBeCloseTo(2 - half, 3);
    expect(s.ci95![1]).toBeCloseTo(2 + half, 3);
  });

  it('accuracies of three runs', () => {
    const s = summarize([0.9, 0.95, 0.94]);
    expect(s.mean).toBeCloseTo(0.93, 12);
    expect(s.std).toBeCloseTo(Math.sqrt((0.03 ** 2 + 0.02 ** 2 + 0.01 ** 2) / 2), 12);
    expect(s.ci95![1] - s.mean).toBeCloseTo((tCritical95(2) * s.std!) / Math.sqrt(3), 12);
  });

  it('t quantiles: table up to 30 degrees of freedom, 1.96 beyond', () => {
    expect(tCritical95(1)).toBeCloseTo(12.706, 3);
    expect(tCritical95(2)).toBeCloseTo(4.303, 3);
    expect(tCritical95(9)).toBeCloseTo(2.262, 3);
    expect(tCritical95(30)).toBeCloseTo(2.042, 3);
    expect(tCritical95(31)).toBe(1.96);
    const s = summarize(Array.from({ length: 40 }, (_, i) => i % 2));
    expect(s.ci95![1] - s.mean).toBeCloseTo((1.96 * s.std!) / Math.sqrt(40), 12);
  });

  it('rejects empty or non-finite input', () => {
    expect(() => summarize([])).toThrow(/no values/);
    expect(() => summarize([1, Number.NaN])).toThrow(/values\[1\]/);
    expect(() => tCritical95(0)).toThrow();
  });
});
