// Inputs for model tests.

/** Deterministic pseudo-random input [n, 3, h, w] in [-1, 1) (an LCG, the same on every machine). */
export function randomInput(n: number, h: number, w = h, seed = 1): Float32Array {
  const out = new Float32Array(n * 3 * h * w);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * A batch of one reproduces its row of a larger batch: within 1e-4, relative to the
 * logit's size (untrained models can give logits near 1e10, where a batch-dependent GEMM
 * blocking, as MKL's in pip's LibTorch, moves the last float bits).
 */
export function sameRow(one: ArrayLike<number>, batch: ArrayLike<number>, n: number): string[] {
  const off: string[] = [];
  for (let i = 0; i < n; i++) {
    if (!(Math.abs(one[i] - batch[i]) <= 1e-4 * Math.max(1, Math.abs(batch[i])))) off.push(`logit ${i}: ${one[i]} alone vs ${batch[i]} in the batch`);
  }
  return off;
}
