// Scores of how close a candidate intermediate domain is to the target, from features of
// a frozen backbone (one row per image) or from pixel intensities. Each is checked against
// a Python reference in test/unit/probe-scores.test.ts.
import { columnMeans, covariance, fromRows, matrix, multiply, sqrtPsd, symmetricEigen, transpose, type Matrix } from './linalg.js';

type Rows = readonly (readonly number[])[];

/**
 * The Fréchet distance between Gaussians fitted to two feature sets (the FID formula):
 * |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)). The last trace is the sum
 * of the square roots of the eigenvalues of S_a S_b, taken from whichever is smaller: the
 * d x d matrix S_a^(1/2) S_b S_a^(1/2), or (with centred samples X) the n_a x n_a matrix
 * M M^T, M = X_a X_b^T / sqrt((n_a - 1)(n_b - 1)), which has the same non-zero eigenvalues.
 */
export function frechetDistance(a: Rows, b: Rows): number {
  const xa = fromRows(a);
  const xb = fromRows(b);
  if (xa.cols !== xb.cols) throw new Error(`frechetDistance: ${xa.cols} and ${xb.cols} features`);
  if (xa.rows < 2 || xb.rows < 2) throw new Error(`frechetDistance needs at least 2 samples per set, got ${xa.rows} and ${xb.rows}`);
  const d = xa.cols;
  const ma = columnMeans(xa);
  const mb = columnMeans(xb);
  let dist = 0;
  for (let j = 0; j < d; j++) dist += (ma[j]! - mb[j]!) ** 2;
  const centred = (x: Matrix, mu: Float64Array) => {
    const c = matrix(x.rows, x.cols, x.data);
    for (let i = 0; i < x.rows; i++) for (let j = 0; j < d; j++) c.data[i * d + j]! -= mu[j]!;
    return c;
  };
  const ca = centred(xa, ma);
  const cb = centred(xb, mb);
  for (const v of ca.data) dist += (v * v) / (xa.rows - 1);
  for (const v of cb.data) dist += (v * v) / (xb.rows - 1);
  let inner: Matrix;
  if (d <= Math.min(xa.rows, xb.rows)) {
    const ra = sqrtPsd(covariance(xa));
    inner = multiply(multiply(ra, covariance(xb)), ra);
  } else {
    const [small, large] = xa.rows <= xb.rows ? [ca, cb] : [cb, ca];
    const m = multiply(small, transpose(large));
    const scale = 1 / ((xa.rows - 1) * (xb.rows - 1));
    inner = multiply(m, transpose(m));
    for (let i = 0; i < inner.data.length; i++) inner.data[i]! *= scale;
  }
  let traceSqrt = 0;
  for (const v of symmetricEigen(inner).values) traceSqrt += Math.sqrt(Math.max(v, 0));
  return dist - 2 * traceSqrt;
}

function sqDist(x: readonly number[], y: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
  return s;
}

/** The median of the pairwise Euclidean distances of the pooled samples (the usual RBF bandwidth). */
export function medianDistance(a: Rows, b: Rows): number {
  const all = [...a, ...b];
  const d: number[] = [];
  for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) d.push(Math.sqrt(sqDist(all[i]!, all[j]!)));
  d.sort((x, y) => x - y);
  const m = d.length;
  return m % 2 === 1 ? d[(m - 1) / 2]! : (d[m / 2 - 1]! + d[m / 2]!) / 2;
}

/**
 * The unbiased estimate of the squared maximum mean discrepancy with the Gaussian kernel
 * exp(-|x - y|^2 / (2 sigma^2)); sigma defaults to the median pairwise distance.
 */
export function mmd2(a: Rows, b: Rows, sigma = medianDistance(a, b)): number {
  const k = (x: readonly number[], y: readonly number[]) => Math.exp(-sqDist(x, y) / (2 * sigma * sigma));
  const within = (s: Rows) => {
    let t = 0;
    for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) if (i !== j) t += k(s[i]!, s[j]!);
    return t / (s.length * (s.length - 1));
  };
  let cross = 0;
  for (const x of a) for (const y of b) cross += k(x, y);
  return within(a) + within(b) - (2 * cross) / (a.length * b.length);
}

/** Cosine similarity of the two feature sets' mean vectors. */
export function meanCosine(a: Rows, b: Rows): number {
  const ma = columnMeans(fromRows(a));
  const mb = columnMeans(fromRows(b));
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < ma.length; j++) {
    dot += ma[j]! * mb[j]!;
    na += ma[j]! ** 2;
    nb += mb[j]! ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * LogME (You et al., ICML 2021): the mean over classes of the log maximum evidence, per
 * sample, of a Bayesian linear model from the features to that class's one-hot column;
 * higher means the features separate the labels better. The fixed-point iteration of the
 * published algorithm (at most 11 steps, stopping when alpha/beta changes by under 1%).
 */
export function logme(features: Rows, labels: readonly number[]): number {
  const f = fromRows(features); // N x D
  const n = f.rows;
  const d = f.cols;
  if (labels.length !== n) throw new Error(`logme: ${n} feature rows, ${labels.length} labels`);
  // The spectrum of F^T F: eigenvalues s_k with eigenvectors v_k, and the columns c_k = F v_k,
  // in terms of which the algorithm is written below (m = sum w_k v_k, so |m|^2 = sum w_k^2
  // and F m = sum w_k c_k). With fewer images than features they come from the smaller
  // N x N matrix F F^T = sum s_k u_k u_k^T, where c_k = sqrt(s_k) u_k; F^T F's other D - N
  // eigenvalues are 0.
  const small = n < d;
  const { values: s, vectors } = small ? symmetricEigen(multiply(f, transpose(f))) : symmetricEigen(multiply(transpose(f), f));
  const k = s.length;
  const c = small ? vectors : multiply(f, vectors); // N x k, column j is c_j
  if (small) for (let j = 0; j < k; j++) {
    const r = Math.sqrt(Math.max(s[j]!, 0));
    for (let i = 0; i < n; i++) c.data[i * k + j]! *= r;
  }
  const zeros = d - k;
  const classes = [...new Set(labels)].sort((x, y) => x - y);
  let total = 0;
  for (const cls of classes) {
    const y = labels.map((l) => (l === cls ? 1 : 0));
    const tmp = new Float64Array(k); // v_k^T F^T y = c_k^T y
    for (let i = 0; i < n; i++) if (y[i]) for (let j = 0; j < k; j++) tmp[j]! += c.data[i * k + j]!;
    let alpha = 1;
    let beta = 1;
    let lam = alpha / beta;
    let alphaDe = 0;
    let betaDe = 0;
    for (let it = 0; it < 11; it++) {
      let gamma = 0;
      for (let j = 0; j < k; j++) gamma += s[j]! / (s[j]! + lam);
      const w = new Float64Array(k);
      alphaDe = 0;
      for (let j = 0; j < k; j++) {
        w[j] = (tmp[j]! * beta) / (alpha + beta * s[j]!);
        alphaDe += w[j]! ** 2;
      }
      alpha = gamma / alphaDe;
      betaDe = 0;
      for (let i = 0; i < n; i++) {
        let pred = 0;
        for (let j = 0; j < k; j++) pred += c.data[i * k + j]! * w[j]!;
        betaDe += (y[i]! - pred) ** 2;
      }
      beta = (n - gamma) / betaDe;
      const newLam = alpha / beta;
      if (Math.abs(newLam - lam) / lam < 0.01) break;
      lam = newLam;
    }
    let logDet = zeros * Math.log(alpha);
    for (let j = 0; j < k; j++) logDet += Math.log(alpha + beta * s[j]!);
    const evidence = (d / 2) * Math.log(alpha) + (n / 2) * Math.log(beta) - 0.5 * logDet - (beta / 2) * betaDe - (alpha / 2) * alphaDe - (n / 2) * Math.log(2 * Math.PI);
    total += evidence / n;
  }
  return total / classes.length;
}

/**
 * The earth mover's (1-Wasserstein) distance between two samples of a scalar, such as
 * pixel intensities: the area between their empirical distribution functions.
 */
export function emd1d(a: readonly number[], b: readonly number[]): number {
  const xa = [...a].sort((x, y) => x - y);
  const xb = [...b].sort((x, y) => x - y);
  const all = [...xa, ...xb].sort((x, y) => x - y);
  let ia = 0;
  let ib = 0;
  let total = 0;
  for (let k = 0; k < all.length - 1; k++) {
    const x = all[k]!;
    while (ia < xa.length && xa[ia]! <= x) ia++;
    while (ib < xb.length && xb[ib]! <= x) ib++;
    total += Math.abs(ia / xa.length - ib / xb.length) * (all[k + 1]! - x);
  }
  return total;
}

/**
 * Leave-one-out k-nearest-neighbour accuracy on L2-normalised features (cosine distance):
 * each image is classified by the majority label of its k nearest other images (ties: the
 * label whose neighbours are nearer in sum). With `groups`, neighbours from the image's own
 * group (patient) are left out, so that a patient's other images cannot give it away.
 */
export function knnAccuracy(features: Rows, labels: readonly number[], k = 5, groups?: readonly string[]): number {
  const n = features.length;
  if (labels.length !== n) throw new Error(`knnAccuracy: ${n} feature rows, ${labels.length} labels`);
  const unit = features.map((r) => {
    const norm = Math.sqrt(r.reduce((s, x) => s + x * x, 0)) || 1;
    return r.map((x) => x / norm);
  });
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const near: { d: number; label: number }[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i || (groups && groups[j] !== '' && groups[j] === groups[i])) continue;
      near.push({ d: sqDist(unit[i]!, unit[j]!), label: labels[j]! });
    }
    near.sort((a, b) => a.d - b.d);
    const votes = new Map<number, { count: number; dist: number }>();
    for (const x of near.slice(0, k)) {
      const v = votes.get(x.label) ?? { count: 0, dist: 0 };
      votes.set(x.label, { count: v.count + 1, dist: v.dist + x.d });
    }
    const best = [...votes].sort((a, b) => b[1].count - a[1].count || a[1].dist - b[1].dist || a[0] - b[0])[0];
    if (best && best[0] === labels[i]) correct++;
  }
  return correct / n;
}
