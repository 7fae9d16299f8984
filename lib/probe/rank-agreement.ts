// How well one ranking of candidates agrees with another: Kendall's tau-b between a
// score and the measured gains, and the NDCG of the score's ranking with the gains as
// relevance. Used to validate the probe's scores against measured transfer.

/** Kendall's tau-b of two paired samples (ties counted as in scipy.stats.kendalltau); NaN when either is constant. */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error(`kendallTau: ${x.length} values against ${y.length}`);
  let [concordant, discordant, tiesX, tiesY] = [0, 0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tiesX++;
      else if (dy === 0) tiesY++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY));
  return denom === 0 ? NaN : (concordant - discordant) / denom;
}

/**
 * NDCG of the order `predicted` gives (largest first) with relevance `relevance` (>= 0):
 * sum of relevance / log2(position + 1), over the same sum for the ideal order. Tied
 * predictions share the mean relevance of their group (as sklearn.metrics.ndcg_score).
 */
export function ndcg(predicted: readonly number[], relevance: readonly number[]): number {
  if (predicted.length !== relevance.length) throw new Error(`ndcg: ${predicted.length} predictions against ${relevance.length} relevances`);
  if (relevance.some((r) => !(r >= 0))) throw new Error('ndcg: relevance must be non-negative');
  const dcg = (order: readonly number[], rel: readonly number[]) => {
    const idx = order.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v);
    let [total, pos] = [0, 0];
    while (pos < idx.length) {
      let end = pos + 1;
      while (end < idx.length && idx[end]!.v === idx[pos]!.v) end++;
      let [gain, discount] = [0, 0];
      for (let k = pos; k < end; k++) {
        gain += rel[idx[k]!.i]!;
        discount += 1 / Math.log2(k + 2);
      }
      total += (gain / (end - pos)) * discount;
      pos = end;
    }
    return total;
  };
  const ideal = dcg(relevance, relevance);
  return ideal === 0 ? NaN : dcg(predicted, relevance) / ideal;
}

/** Gains rescaled to relevance in [0, 1]: the smallest gain 0, the largest 1. */
export function gainsAsRelevance(gains: readonly number[]): number[] {
  const [lo, hi] = [Math.min(...gains), Math.max(...gains)];
  return gains.map((g) => (hi === lo ? 1 : (g - lo) / (hi - lo)));
}
