// Classification metrics matching scikit-learn's definitions, so reports are
// comparable with the paper's Python numbers:
//   - prediction = argmax of probs (first index on ties, like numpy.argmax)
//   - precision/recall/F1 with zero_division=0, macro = unweighted class mean
//   - binary AUC = roc_auc_score on the class-1 probability (ties count 1/2)
//   - multi-class AUC = roc_auc_score(multi_class='ovr', average='macro')
//   - ROC points = roc_curve(drop_intermediate=False)
// ROC's first threshold is Infinity (sklearn >= 1.3); sklearn 1.2 wrote
// max(score)+1 there instead. Note JSON.stringify turns Infinity into null.

export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  thresholds: number[];
}

export interface ClassificationReport {
  accuracy: number;
  perClass: ClassMetrics[];
  macro: { precision: number; recall: number; f1: number };
  /** rows = true class, cols = predicted class */
  confusion: number[][];
  /** null when AUC is undefined (a class missing from labels) */
  auc: number | null;
  /** binary only; null for multi-class or when a class is missing */
  roc: RocCurve | null;
  n: number;
}

/** Index of the largest value; the first one wins ties (numpy.argmax). */
export function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

function checkLabels(labels: readonly number[], numClasses: number): void {
  labels.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new Error(`labels[${i}] = ${y} is not a class index in [0, ${numClasses})`);
    }
  });
}

function checkScores(scores: readonly number[], what: string): void {
  scores.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new Error(`${what}[${i}] = ${s} is not a finite number`);
  });
}

/** Confusion matrix over classes 0..numClasses-1 (rows true, cols predicted). */
export function confusionMatrix(labels: readonly number[], predictions: readonly number[], numClasses: number): number[][] {
  if (labels.length !== predictions.length) {
    throw new Error(`labels (${labels.length}) and predictions (${predictions.length}) differ in length`);
  }
  checkLabels(labels, numClasses);
  checkLabels(predictions, numClasses);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  labels.forEach((y, i) => {
    const row = m[y] as number[];
    const p = predictions[i] as number;
    row[p] = (row[p] as number) + 1;
  });
  return m;
}

/** a / b, or 0 when b is 0 (sklearn zero_division=0). */
function safeDiv(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** Per-class precision/recall/F1/support from a confusion matrix. */
export function perClassMetrics(confusion: readonly (readonly number[])[], classNames: readonly string[]): ClassMetrics[] {
  return classNames.map((name, c) => {
    const tp = confusion[c]?.[c] ?? 0;
    const support = (confusion[c] ?? []).reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + (row[c] ?? 0), 0);
    const precision = safeDiv(tp, predicted);
    const recall = safeDiv(tp, support);
    // Harmonic mean of p and r (sklearn 1.2's formula); 0 when both are 0.
    const f1 = safeDiv(2 * precision * recall, precision + recall);
    return { name, precision, recall, f1, support };
  });
}

/**
 * Binary ROC AUC of `scores` for positives `isPositive`; equals the
 * Mann–Whitney U / (nPos * nNeg) with ties counting 1/2. Returns null when
 * either class is absent (sklearn raises there).
 */
export function binaryAuc(isPositive: readonly boolean[], scores: readonly number[]): number | null {
  if (isPositive.length !== scores.length) {
    throw new Error(`binaryAuc: ${isPositive.length} labels but ${scores.length} scores`);
  }
  checkScores(scores, 'scores');
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  // Walk tie groups in ascending score; every positive beats all negatives
  // below its group and half-beats the negatives inside it. Counting in
  // half-units keeps the sum an exact integer before the single division.
  let negBelow = 0;
  let halfWins = 0;
  let nPos = 0;
  for (let start = 0; start < order.length; ) {
    const value = scores[order[start] as number];
    let pos = 0;
    let neg = 0;
    let end = start;
    for (; end < order.length && scores[order[end] as number] === value; end++) {
      if (isPositive[order[end] as number]) pos++;
      else neg++;
    }
    halfWins += pos * (2 * negBelow + neg);
    negBelow += neg;
    nPos += pos;
    start = end;
  }
  const nNeg = negBelow;
  if (nPos === 0 || nNeg === 0) return null;
  return halfWins / (2 * nPos * nNeg);
}

/**
 * ROC points exactly as sklearn roc_curve(drop_intermediate=False): one point
 * per distinct score (descending) plus a leading (0, 0) at threshold Infinity.
 * Returns null when either class is absent (rates would be 0/0).
 */
export function rocCurve(isPositive: readonly boolean[], scores: readonly number[]): RocCurve | null {
  if (isPositive.length !== scores.length) {
    throw new Error(`rocCurve: ${isPositive.length} labels but ${scores.length} scores`);
  }
  checkScores(scores, 'scores');
  const order = scores.map((_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  const tps: number[] = [0];
  const fps: number[] = [0];
  const thresholds: number[] = [Infinity];
  let tp = 0;
  let fp = 0;
  order.forEach((idx, k) => {
    if (isPositive[idx]) tp++;
    else fp++;
    const next = order[k + 1];
    // Emit a point only at the last index of each run of equal scores.
    if (next === undefined || scores[next] !== scores[idx]) {
      tps.push(tp);
      fps.push(fp);
      thresholds.push(scores[idx] as number);
    }
  });
  if (tp === 0 || fp === 0) return null;
  return { fpr: fps.map((f) => f / fp), tpr: tps.map((t) => t / tp), thresholds };
}

/**
 * Macro one-vs-rest AUC over all classes. Null if any class is missing from
 * labels, mirroring sklearn, which refuses when y_true lacks a column's class.
 */
export function macroOvrAuc(labels: readonly number[], probs: readonly (readonly number[])[], numClasses: number): number | null {
  let sum = 0;
  for (let c = 0; c < numClasses; c++) {
    const auc = binaryAuc(
      labels.map((y) => y === c),
      probs.map((row) => row[c] as number),
    );
    if (auc === null) return null;
    sum += auc;
  }
  return sum / numClasses;
}

function validateReportInputs(labels: readonly number[], probs: readonly (readonly number[])[], classNames: readonly string[]): void {
  const k = classNames.length;
  if (k < 2) throw new Error(`classificationReport needs at least 2 class names, got ${k}`);
  if (labels.length !== probs.length) {
    throw new Error(`labels (${labels.length}) and probs (${probs.length}) differ in length`);
  }
  if (labels.length === 0) throw new Error('classificationReport needs at least one sample');
  checkLabels(labels, k);
  probs.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new Error(`probs[${i}] has ${Array.isArray(row) ? row.length : 'no'} entries, expected ${k} (one per class)`);
    }
    checkScores(row, `probs[${i}]`);
  });
}

/** Full report: accuracy, per-class and macro P/R/F1, confusion, AUC, ROC. */
export function classificationReport(labels: number[], probs: number[][], classNames: string[]): ClassificationReport {
  validateReportInputs(labels, probs, classNames);
  const k = classNames.length;
  const predictions = probs.map(argmax);
  const confusion = confusionMatrix(labels, predictions, k);
  const perClass = perClassMetrics(confusion, classNames);
  const mean = (key: 'precision' | 'recall' | 'f1'): number => perClass.reduce((a, m) => a + m[key], 0) / k;
  const correct = labels.reduce((a, y, i) => a + (y === predictions[i] ? 1 : 0), 0);
  let auc: number | null;
  let roc: RocCurve | null = null;
  if (k === 2) {
    const isPositive = labels.map((y) => y === 1);
    const scores = probs.map((row) => row[1] as number);
    auc = binaryAuc(isPositive, scores);
    roc = rocCurve(isPositive, scores);
  } else {
    auc = macroOvrAuc(labels, probs, k);
  }
  return {
    accuracy: correct / labels.length,
    perClass,
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    confusion,
    auc,
    roc,
    n: labels.length,
  };
}

/**
 * Per-class one-vs-rest AUC: entry k is scikit-learn's roc_auc_score(y == k, probs[:, k])
 * (ties count 1/2), NaN for a class absent from labels or the only class present (sklearn
 * raises there). Its mean, when no entry is NaN, is macroOvrAuc.
 */
export function oneVsRestAuc(probs: readonly (readonly number[])[], labels: readonly number[]): number[] {
  if (probs.length !== labels.length) throw new Error(`oneVsRestAuc: ${probs.length} probability rows but ${labels.length} labels`);
  const k = probs[0]?.length ?? 0;
  if (k < 2) throw new Error(`oneVsRestAuc: probs needs at least one row of at least 2 entries`);
  probs.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new Error(`oneVsRestAuc: probs[${i}] has ${Array.isArray(row) ? row.length : 'no'} entries, expected ${k}`);
    }
    checkScores(row, `probs[${i}]`);
  });
  checkLabels(labels, k);
  return Array.from({ length: k }, (_, c) => binaryAuc(labels.map((y) => y === c), probs.map((row) => row[c] as number)) ?? NaN);
}

/**
 * Quadratic weighted Cohen's kappa for graded labels, as scikit-learn's
 * cohen_kappa_score(yTrue, yPred, weights='quadratic'): 1 - sum(w * O) / sum(w * E) with
 * O the confusion matrix, E the outer product of its marginals over n and
 * w_ij = (i - j)^2 over the label list's positions. With numClasses the labels are
 * 0..numClasses-1 (sklearn's labels=range(numClasses)), so a weight is the squared grade
 * distance; without it they are the distinct values present in either array, sorted
 * (sklearn's default labels=None), so a grade absent from both closes the gap around it.
 * Pass numClasses for graded scales. NaN when sum(w * E) is 0 (both raters gave everyone
 * one and the same grade), where sklearn returns nan.
 */
export function quadraticWeightedKappa(yTrue: readonly number[], yPred: readonly number[], numClasses?: number): number {
  if (yTrue.length !== yPred.length) throw new Error(`quadraticWeightedKappa: yTrue (${yTrue.length}) and yPred (${yPred.length}) differ in length`);
  if (yTrue.length === 0) throw new Error('quadraticWeightedKappa needs at least one sample');
  let classes: number[];
  if (numClasses === undefined) {
    [...yTrue, ...yPred].forEach((y, i) => {
      if (!Number.isInteger(y) || y < 0) throw new Error(`quadraticWeightedKappa: label ${y} (at ${i}) is not a non-negative integer`);
    });
    classes = [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
  } else {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`quadraticWeightedKappa: numClasses must be an integer >= 1, got ${numClasses}`);
    checkLabels(yTrue, numClasses);
    checkLabels(yPred, numClasses);
    classes = Array.from({ length: numClasses }, (_, i) => i);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const k = classes.length;
  const observed = confusionMatrix(yTrue.map((y) => index.get(y) as number), yPred.map((y) => index.get(y) as number), k);
  const rowSums = observed.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = classes.map((_, j) => observed.reduce((a, row) => a + (row[j] as number), 0));
  const n = yTrue.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = (i - j) * (i - j);
      num += w * ((observed[i] as number[])[j] as number);
      den += (w * (rowSums[i] as number) * (colSums[j] as number)) / n;
    }
  }
  return den === 0 ? NaN : 1 - num / den;
}

/** The graded-label metrics of predictions: quadratic weighted kappa of the argmax class (over class indices 0..numClasses-1) and the one-vs-rest AUC of each class (NaN where undefined). */
export function gradedMetrics(probs: readonly (readonly number[])[], labels: readonly number[], numClasses: number): { kappa: number; ovrAuc: number[] } {
  return { kappa: quadraticWeightedKappa(labels, probs.map(argmax), numClasses), ovrAuc: oneVsRestAuc(probs, labels) };
}
