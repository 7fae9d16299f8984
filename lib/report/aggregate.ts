// Summary statistics over the repeated runs of one configuration (the paper: tables show
// the mean and, beyond the paper, the sample standard deviation and a 95% interval).

export interface Summary {
  mean: number;
  /** sample standard deviation (n - 1 in the denominator); null when n = 1 (undefined from one run) */
  std: number | null;
  /** two-sided 95% confidence interval of the mean, t-distribution with n - 1 degrees of freedom; null when n = 1 */
  ci95: [number, number] | null;
  n: number;
  /** the values summarised, in the order given */
  values: number[];
}

/**
 * 0.975 quantiles of Student's t for 1..30 degrees of freedom (scipy.stats.t.ppf(0.975, df),
 * rounded to 6 decimals). Beyond 30 the normal 1.96 is used.
 */
const T975: readonly number[] = [
  12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
  2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
  2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272,
];

/** Two-sided 95% critical value t_{0.975, df}; df >= 1. */
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`tCritical95: degrees of freedom must be a positive integer, got ${df}`);
  return df <= T975.length ? (T975[df - 1] as number) : 1.96;
}

/** Mean, sample std and t-based 95% interval of `values` (at least one finite number; one value has no std or interval). */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) throw new Error('summarize: no values');
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`summarize: values[${i}] = ${v} is not a finite number`);
  });
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: null, ci95: null, n, values: [...values] };
  const ss = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  const std = Math.sqrt(ss / (n - 1));
  const half = (tCritical95(n - 1) * std) / Math.sqrt(n);
  return { mean, std, ci95: [mean - half, mean + half], n, values: [...values] };
}
