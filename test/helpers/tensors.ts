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
