// Calibration metrics for predicted class probabilities:
//   - calibrationError: top-label expected (norm 'l1') and maximum (norm 'max') calibration
//     error with equal-width bins, as torchmetrics' MulticlassCalibrationError defines them;
//     binaryCalibrationError: torchmetrics' BinaryCalibrationError (positive-class
//     probability against the label);
//   - reliabilityBins: the per-bin numbers behind both, for a reliability diagram;
//   - brierScore (binary, scikit-learn's brier_score_loss) and multiclassBrier (sum form);
//   - fitTemperature: temperature scaling by the NLL; logitsFromProbs for runs that stored
//     probabilities only.
//
// Binning (torchmetrics, torch.bucketize(right=True) - 1): boundaries b_k = k / bins,
// k = 0..bins; a confidence c goes to the largest k with b_k <= c. Bins are therefore
// [b_k, b_{k+1}), a confidence exactly on a boundary goes to the bin above it, 0 goes to
// bin 0, and a confidence of exactly 1 goes to a slot of its own (index `bins`, the
// interval [1, 1]), as in torchmetrics, which allocates bins + 1 slots. Empty bins add
// nothing. Differences from torchmetrics: it works in float32 (confidences cast with
// .float(), boundaries from torch.linspace) where this module works in float64 with the
// exact boundaries b_k = k / bins (correctly rounded), so results agree to float32
// precision and bin placement differs only for confidences within float32 rounding of a
// boundary. That includes some confidences exactly on an edge: torch.linspace rounds a few
// boundaries one ulp above k / bins (float32 CPU, 15 bins: 3/15, 6/15 and 7/15), so
// torchmetrics puts a confidence of exactly 0.2, 0.4 or 7/15 in the bin below, where this
// module, like the definition, puts it in the bin above (which boundaries are affected
// depends on the dtype and torch's kernel). Confidence 0 and 1 are placed identically.
// torchmetrics also turns values outside [0, 1] into probabilities (softmax / sigmoid);
// this module refuses them.

import { argmax } from './metrics.js';

export type CalibrationNorm = 'l1' | 'max';

export interface CalibrationOptions {
  /** Number of equal-width bins over [0, 1] (torchmetrics' n_bins); default 15. */
  bins?: number;
  /** 'l1': expected calibration error (ECE); 'max': maximum calibration error (MCE). Default 'l1'. */
  norm?: CalibrationNorm;
}

export interface ReliabilityBin {
  /** Lower edge (inclusive). */
  lo: number;
  /** Upper edge (exclusive, except the last slot [1, 1]). */
  hi: number;
  count: number;
  /** Mean accuracy of the bin's samples; NaN when the bin is empty. */
  accuracy: number;
  /** Mean confidence of the bin's samples; NaN when the bin is empty. */
  confidence: number;
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be an integer >= 1, got ${bins}`);
}

function checkLabels(labels: readonly number[], numClasses: number, what = 'labels'): void {
  labels.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new Error(`${what}[${i}] = ${y} is not a class index in [0, ${numClasses})`);
    }
  });
}

function checkProbability(p: number, what: string): void {
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) throw new Error(`${what} = ${p} is not a probability in [0, 1]`);
}

/** Checks a probability matrix against labels; returns the number of classes. */
function checkProbs(probs: readonly (readonly number[])[], labels: readonly number[], fn: string): number {
  if (probs.length !== labels.length) throw new Error(`${fn}: ${probs.length} probability rows but ${labels.length} labels`);
  if (probs.length === 0) throw new Error(`${fn} needs at least one sample`);
  const k = probs[0]?.length ?? 0;
  if (k < 2) throw new Error(`${fn}: probs[0] has ${k} entries, expected at least 2 (one per class)`);
  probs.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new Error(`${fn}: probs[${i}] has ${Array.isArray(row) ? row.length : 'no'} entries, expected ${k}`);
    }
    row.forEach((p, c) => checkProbability(p, `probs[${i}][${c}]`));
  });
  checkLabels(labels, k);
  return k;
}

/** Index of c's bin: the largest k in 0..bins with k / bins <= c (bucketize(right=True) - 1). */
export function binIndex(c: number, bins: number): number {
  let k = Math.min(bins, Math.max(0, Math.floor(c * bins)));
  // c * bins is rounded; settle against the exact boundaries k / bins.
  while (k < bins && (k + 1) / bins <= c) k++;
  while (k > 0 && k / bins > c) k--;
  return k;
}

/** Bins (confidence, correct) pairs: `bins` equal-width bins plus the slot for confidence 1. */
function binPairs(confidences: readonly number[], correct: readonly number[], bins: number): ReliabilityBin[] {
  checkBins(bins);
  const count = new Array<number>(bins + 1).fill(0);
  const confSum = new Array<number>(bins + 1).fill(0);
  const accSum = new Array<number>(bins + 1).fill(0);
  confidences.forEach((c, i) => {
    const k = binIndex(c, bins);
    count[k] = (count[k] as number) + 1;
    confSum[k] = (confSum[k] as number) + c;
    accSum[k] = (accSum[k] as number) + (correct[i] as number);
  });
  return count.map((n, k) => ({
    lo: k === bins ? 1 : k / bins,
    hi: k === bins ? 1 : (k + 1) / bins,
    count: n,
    accuracy: n === 0 ? NaN : (accSum[k] as number) / n,
    confidence: n === 0 ? NaN : (confSum[k] as number) / n,
  }));
}

function errorFromBins(binned: readonly ReliabilityBin[], norm: CalibrationNorm): number {
  const total = binned.reduce((a, b) => a + b.count, 0);
  let sum = 0;
  let max = 0;
  for (const b of binned) {
    if (b.count === 0) continue;
    const gap = Math.abs(b.accuracy - b.confidence);
    sum += gap * (b.count / total);
    max = Math.max(max, gap);
  }
  if (norm === 'l1') return sum;
  if (norm === 'max') return max;
  throw new Error(`norm must be 'l1' or 'max', got ${String(norm)}`);
}

/** Top-label confidences (max probability) and correctness (argmax, first index on ties, equals the label). */
function topLabel(probs: readonly (readonly number[])[], labels: readonly number[]): { confidences: number[]; correct: number[] } {
  const confidences = probs.map((row) => Math.max(...row));
  const correct = probs.map((row, i) => (argmax(row) === labels[i] ? 1 : 0));
  return { confidences, correct };
}

/**
 * Reliability diagram of the top-label confidence (max probability; the prediction is the
 * argmax, first index on ties): `bins + 1` entries, the `bins` equal-width bins
 * [k / bins, (k + 1) / bins) and last the slot [1, 1] holding confidences exactly 1 (see the
 * binning note at the top of this file). calibrationError is computed from these entries.
 */
export function reliabilityBins(probs: readonly (readonly number[])[], labels: readonly number[], bins = 15): ReliabilityBin[] {
  checkProbs(probs, labels, 'reliabilityBins');
  const { confidences, correct } = topLabel(probs, labels);
  return binPairs(confidences, correct, bins);
}

/**
 * Top-label calibration error, torchmetrics' MulticlassCalibrationError (any number of
 * classes, 2 included): confidence = max probability, accuracy = (argmax == label), 15
 * equal-width bins by default. norm 'l1' (default): ECE = sum over bins of
 * |accuracy - confidence| * (n_bin / n); norm 'max': MCE = the largest |accuracy -
 * confidence| over non-empty bins. For torchmetrics' BinaryCalibrationError (the
 * positive-class probability against the label) use binaryCalibrationError.
 */
export function calibrationError(probs: readonly (readonly number[])[], labels: readonly number[], options: CalibrationOptions = {}): number {
  const { bins = 15, norm = 'l1' } = options;
  return errorFromBins(reliabilityBins(probs, labels, bins), norm);
}

/**
 * Reliability diagram of a binary positive-class probability, as torchmetrics'
 * BinaryCalibrationError bins it: confidence = p (the positive-class probability, not the
 * max of p and 1 - p), "accuracy" = the label (0 or 1), so each bin compares the observed
 * positive rate with the mean predicted probability. Same `bins + 1` entries as
 * reliabilityBins.
 */
export function binaryReliabilityBins(scores: readonly number[], labels: readonly number[], bins = 15): ReliabilityBin[] {
  if (scores.length !== labels.length) throw new Error(`binaryReliabilityBins: ${scores.length} scores but ${labels.length} labels`);
  if (scores.length === 0) throw new Error('binaryReliabilityBins needs at least one sample');
  scores.forEach((p, i) => checkProbability(p, `scores[${i}]`));
  checkLabels(labels, 2);
  return binPairs(scores, labels, bins);
}

/**
 * torchmetrics' BinaryCalibrationError: ECE ('l1') or MCE ('max') of the positive-class
 * probability `scores` against the 0/1 `labels` (see binaryReliabilityBins). Not the
 * top-label error: for two classes calibrationError(probs, labels) gives that one.
 */
export function binaryCalibrationError(scores: readonly number[], labels: readonly number[], options: CalibrationOptions = {}): number {
  const { bins = 15, norm = 'l1' } = options;
  return errorFromBins(binaryReliabilityBins(scores, labels, bins), norm);
}

/**
 * Binary Brier score: mean of (p_1 - y)^2 over samples, p_1 = probs[i][1] the class-1
 * (positive) probability; equals scikit-learn's brier_score_loss(y_true, p_1). Needs exactly
 * two columns. It is half of multiclassBrier for the same two-column rows.
 */
export function brierScore(probs: readonly (readonly number[])[], labels: readonly number[]): number {
  const k = checkProbs(probs, labels, 'brierScore');
  if (k !== 2) throw new Error(`brierScore is the binary Brier score and needs 2 columns, got ${k}; use multiclassBrier`);
  let sum = 0;
  probs.forEach((row, i) => {
    const d = (row[1] as number) - (labels[i] as number);
    sum += d * d;
  });
  return sum / probs.length;
}

/**
 * Multiclass Brier score (Brier's original sum form): mean over samples of the sum over
 * classes of (p_k - onehot(y)_k)^2, in [0, 2]. For two classes it is twice brierScore.
 */
export function multiclassBrier(probs: readonly (readonly number[])[], labels: readonly number[]): number {
  checkProbs(probs, labels, 'multiclassBrier');
  let sum = 0;
  probs.forEach((row, i) => {
    row.forEach((p, c) => {
      const d = p - (c === labels[i] ? 1 : 0);
      sum += d * d;
    });
  });
  return sum / probs.length;
}

// ---- temperature scaling ----------------------------------------------------

export interface TemperatureFit {
  /** The T in [min, max] minimising the mean NLL of softmax(logits / T). */
  temperature: number;
  /** Mean NLL at T = 1. */
  nllBefore: number;
  /** Mean NLL at `temperature` (never above nllBefore when 1 lies in [min, max]). */
  nllAfter: number;
  /** True when the optimum lies at (or beyond) a bound of the search range. */
  atBound: boolean;
}

export interface TemperatureOptions {
  /** Smallest temperature searched; default 0.05. */
  min?: number;
  /** Largest temperature searched; default 20. */
  max?: number;
}

function checkLogits(logits: readonly (readonly number[])[], labels: readonly number[], fn: string): number {
  if (logits.length !== labels.length) throw new Error(`${fn}: ${logits.length} logit rows but ${labels.length} labels`);
  if (logits.length === 0) throw new Error(`${fn} needs at least one sample`);
  const k = logits[0]?.length ?? 0;
  if (k < 2) throw new Error(`${fn}: logits[0] has ${k} entries, expected at least 2 (one per class)`);
  logits.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new Error(`${fn}: logits[${i}] has ${Array.isArray(row) ? row.length : 'no'} entries, expected ${k}`);
    }
    row.forEach((z, c) => {
      if (typeof z !== 'number' || !Number.isFinite(z)) throw new Error(`logits[${i}][${c}] = ${z} is not a finite number`);
    });
  });
  checkLabels(labels, k);
  return k;
}

/**
 * Mean NLL of softmax(beta * z) and its first two derivatives in beta = 1 / T. The NLL is
 * convex in beta (a log-sum-exp of linear functions minus a linear one): d/dbeta = mean of
 * (E_p[z] - z_y), d2/dbeta2 = mean of Var_p[z] >= 0.
 */
function nllInBeta(logits: readonly (readonly number[])[], labels: readonly number[], beta: number): { f: number; g: number; h: number } {
  let f = 0;
  let g = 0;
  let h = 0;
  logits.forEach((row, i) => {
    let m = -Infinity;
    for (const z of row) m = Math.max(m, beta * z);
    let s = 0;
    let sz = 0;
    let szz = 0;
    for (const z of row) {
      const e = Math.exp(beta * z - m);
      s += e;
      sz += e * z;
      szz += e * z * z;
    }
    const zy = row[labels[i] as number] as number;
    const mean = sz / s;
    f += m + Math.log(s) - beta * zy;
    g += mean - zy;
    h += Math.max(0, szz / s - mean * mean);
  });
  const n = logits.length;
  return { f: f / n, g: g / n, h: h / n };
}

/** Mean negative log-likelihood of softmax(logits / T) for the labels. */
export function temperatureNll(logits: readonly (readonly number[])[], labels: readonly number[], temperature = 1): number {
  checkLogits(logits, labels, 'temperatureNll');
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`temperature must be > 0, got ${temperature}`);
  return nllInBeta(logits, labels, 1 / temperature).f;
}

/**
 * Temperature scaling (Guo et al. 2017): the single T > 0 minimising the mean NLL of
 * softmax(logits / T), searched in [min, max] = [0.05, 20] by default. The NLL is convex in
 * beta = 1 / T, so the optimum is the root of its derivative, found by Newton's method on
 * beta safeguarded by bisection (to ~1e-12 in T). When the derivative has one sign over the
 * whole range (for instance perfectly separated training logits, whose NLL keeps falling as
 * T -> 0) the nearest bound is returned with atBound true. When every row's logits are all
 * equal the NLL does not depend on T and T = 1 is returned. For stored probabilities pass
 * logitsFromProbs(probs).
 */
export function fitTemperature(logits: readonly (readonly number[])[], labels: readonly number[], options: TemperatureOptions = {}): TemperatureFit {
  checkLogits(logits, labels, 'fitTemperature');
  const { min = 0.05, max = 20 } = options;
  if (!(min > 0) || !(max >= min) || !Number.isFinite(max)) throw new Error(`fitTemperature needs 0 < min <= max, got min ${min}, max ${max}`);
  const at1 = nllInBeta(logits, labels, 1);
  const nllBefore = at1.f;
  if (at1.h === 0) {
    // Every row constant: softmax(z / T) is uniform for all T.
    return { temperature: 1, nllBefore, nllAfter: nllBefore, atBound: false };
  }
  let lo = 1 / max;
  let hi = 1 / min;
  let beta: number;
  let atBound = false;
  if (nllInBeta(logits, labels, lo).g >= 0) {
    beta = lo;
    atBound = true;
  } else if (nllInBeta(logits, labels, hi).g <= 0) {
    beta = hi;
    atBound = true;
  } else {
    beta = Math.min(hi, Math.max(lo, 1));
    for (let iter = 0; iter < 200; iter++) {
      const { g, h } = nllInBeta(logits, labels, beta);
      if (g === 0) break;
      if (g > 0) hi = beta;
      else lo = beta;
      const newton = h > 0 ? beta - g / h : NaN;
      const next = newton > lo && newton < hi ? newton : (lo + hi) / 2;
      const step = Math.abs(next - beta);
      beta = next;
      if (step <= 1e-15 * Math.max(1, beta) || hi - lo <= 1e-15 * hi) break;
    }
  }
  let temperature = 1 / beta;
  let nllAfter = nllInBeta(logits, labels, beta).f;
  if (nllAfter > nllBefore && min <= 1 && 1 <= max) {
    // Only rounding can get here (the optimum is a minimum over a range holding 1).
    temperature = 1;
    nllAfter = nllBefore;
  }
  return { temperature, nllBefore, nllAfter, atBound };
}

/** softmax(z) of one row of logits (the largest subtracted first). */
export function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * Logits for temperature scaling from stored probabilities: log(max(p, eps)). Since
 * log softmax(z) = z - logsumexp(z), log p equals the logits up to a per-row constant, and
 * softmax is unchanged by a per-row constant, so softmax(log p / T) = softmax(z / T) and
 * fitTemperature(logitsFromProbs(probs), labels) fits the same T as on the true logits.
 * Clipping at eps (default 1e-12) only matters for probabilities that underflowed to 0 (or
 * below eps); it caps their log at log(eps) ~ -27.6 instead of -Infinity.
 */
export function logitsFromProbs(probs: readonly (readonly number[])[], eps = 1e-12): number[][] {
  if (!(eps > 0) || eps >= 1) throw new Error(`logitsFromProbs: eps must be in (0, 1), got ${eps}`);
  return probs.map((row, i) =>
    row.map((p, c) => {
      checkProbability(p, `probs[${i}][${c}]`);
      return Math.log(Math.max(p, eps));
    }),
  );
}
