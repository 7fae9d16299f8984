// Paired tests on the same test images: DeLong's test for two correlated ROC AUCs, the
// exact McNemar test for two classifiers' accuracy, and Holm's step-down correction of a
// family of p-values. Checked against references in test/unit/stats.test.ts (a DeLong
// written in numpy, scipy's binomtest, a Holm written in Python).

/** erfc(x), Numerical Recipes' Chebyshev fit (fractional error below 1.2e-7 everywhere). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal statistic. */
export function normalTwoSided(z: number): number {
  return Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
}

export interface DelongResult {
  aucA: number;
  aucB: number;
  /** aucB - aucA */
  difference: number;
  /** standard error of the difference */
  se: number;
  z: number;
  p: number;
}

/** Placement values of one score vector: for each positive, the share of negatives it beats (ties 1/2); for each negative, the share of positives that beat it. */
function placements(pos: readonly number[], neg: readonly number[]): { v10: number[]; v01: number[] } {
  const v10 = pos.map((x) => neg.reduce((a, y) => a + (x > y ? 1 : x === y ? 0.5 : 0), 0) / neg.length);
  const v01 = neg.map((y) => pos.reduce((a, x) => a + (x > y ? 1 : x === y ? 0.5 : 0), 0) / pos.length);
  return { v10, v01 };
}

function covariance(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let c = 0;
  for (let i = 0; i < n; i++) c += (a[i]! - ma) * (b[i]! - mb);
  return c / (n - 1);
}

/**
 * DeLong, DeLong & Clarke-Pearson (1988): are the AUCs of two scores on the same images
 * different? `isPositive[i]` is image i's class; `a[i]`, `b[i]` its two scores. Null when
 * there are fewer than two positives or two negatives.
 */
export function delongTest(isPositive: readonly boolean[], a: readonly number[], b: readonly number[]): DelongResult | null {
  if (a.length !== isPositive.length || b.length !== isPositive.length) throw new Error(`delongTest: ${isPositive.length} labels, ${a.length} and ${b.length} scores`);
  const split = (s: readonly number[]) => ({ pos: s.filter((_, i) => isPositive[i]), neg: s.filter((_, i) => !isPositive[i]) });
  const sa = split(a);
  const sb = split(b);
  const m = sa.pos.length;
  const n = sa.neg.length;
  if (m < 2 || n < 2) return null;
  const pa = placements(sa.pos, sa.neg);
  const pb = placements(sb.pos, sb.neg);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const aucA = mean(pa.v10);
  const aucB = mean(pb.v10);
  const variance =
    (covariance(pa.v10, pa.v10) + covariance(pb.v10, pb.v10) - 2 * covariance(pa.v10, pb.v10)) / m +
    (covariance(pa.v01, pa.v01) + covariance(pb.v01, pb.v01) - 2 * covariance(pa.v01, pb.v01)) / n;
  const difference = aucB - aucA;
  if (!(variance > 0)) return { aucA, aucB, difference, se: 0, z: 0, p: difference === 0 ? 1 : 0 };
  const se = Math.sqrt(variance);
  const z = difference / se;
  return { aucA, aucB, difference, se, z, p: normalTwoSided(z) };
}

export interface McnemarResult {
  /** images A classifies right and B wrong */
  onlyA: number;
  /** images B classifies right and A wrong */
  onlyB: number;
  p: number;
}

/** ln(k!) for k = 0..n. */
function logFactorials(n: number): Float64Array {
  const f = new Float64Array(n + 1);
  for (let k = 1; k <= n; k++) f[k] = f[k - 1]! + Math.log(k);
  return f;
}

/**
 * McNemar's exact test (the two-sided binomial test of the discordant pairs at 1/2): do two
 * classifiers, right or wrong on the same images, differ in accuracy?
 */
export function mcnemarExact(correctA: readonly boolean[], correctB: readonly boolean[]): McnemarResult {
  if (correctA.length !== correctB.length) throw new Error(`mcnemarExact: ${correctA.length} and ${correctB.length} images`);
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < correctA.length; i++) {
    if (correctA[i] && !correctB[i]) onlyA++;
    else if (!correctA[i] && correctB[i]) onlyB++;
  }
  const n = onlyA + onlyB;
  if (n === 0 || onlyA === onlyB) return { onlyA, onlyB, p: 1 };
  const lf = logFactorials(n);
  const k = Math.min(onlyA, onlyB);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(lf[n]! - lf[i]! - lf[n - i]! - n * Math.LN2);
  return { onlyA, onlyB, p: Math.min(1, 2 * tail) };
}

/** Holm (1979) step-down adjusted p-values, in the order given; nulls stay null and do not count. */
export function holm(ps: readonly (number | null)[]): (number | null)[] {
  const present = ps.map((p, i) => ({ p, i })).filter((x): x is { p: number; i: number } => x.p !== null);
  present.sort((x, y) => x.p - y.p || x.i - y.i);
  const m = present.length;
  const out: (number | null)[] = ps.map(() => null);
  let running = 0;
  present.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}
