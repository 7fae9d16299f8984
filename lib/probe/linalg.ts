// Small dense linear algebra for the probe's scores, in float64: means, covariances and
// the eigendecomposition of a symmetric matrix (cyclic Jacobi rotations; exact to rounding
// for the few-hundred-dimensional feature spaces the probe works in).

/** Rows x cols, row-major. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  const m = { rows, cols, data: new Float64Array(rows * cols) };
  if (data) {
    if (data.length !== rows * cols) throw new Error(`a ${rows}x${cols} matrix needs ${rows * cols} values, got ${data.length}`);
    m.data.set(data);
  }
  return m;
}

/** A matrix from an array of equal-length rows. */
export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const m = matrix(rows.length, cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new Error(`row ${i} has ${r.length} values, row 0 has ${cols}`);
    m.data.set(r, i * cols);
  });
  return m;
}

export function columnMeans(x: Matrix): Float64Array {
  const mu = new Float64Array(x.cols);
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.cols; j++) mu[j]! += x.data[i * x.cols + j]!;
  for (let j = 0; j < x.cols; j++) mu[j]! /= x.rows;
  return mu;
}

/** Sample covariance (n - 1 in the denominator), as numpy.cov(x, rowvar=False). */
export function covariance(x: Matrix): Matrix {
  if (x.rows < 2) throw new Error(`a covariance needs at least 2 samples, got ${x.rows}`);
  const mu = columnMeans(x);
  const d = x.cols;
  const c = matrix(d, d);
  const row = new Float64Array(d);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < d; j++) row[j] = x.data[i * d + j]! - mu[j]!;
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      for (let b = a; b < d; b++) c.data[a * d + b]! += ra * row[b]!;
    }
  }
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      const v = c.data[a * d + b]! / (x.rows - 1);
      c.data[a * d + b] = v;
      c.data[b * d + a] = v;
    }
  return c;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`cannot multiply ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const c = matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k]!;
      if (v === 0) continue;
      for (let j = 0; j < b.cols; j++) c.data[i * b.cols + j]! += v * b.data[k * b.cols + j]!;
    }
  return c;
}

export function transpose(a: Matrix): Matrix {
  const t = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return t;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix: `values[k]` with the eigenvector in
 * column k of `vectors`. Cyclic Jacobi: rotations until every off-diagonal element is
 * negligible against the diagonal.
 */
export function symmetricEigen(s: Matrix, maxSweeps = 100): { values: Float64Array; vectors: Matrix } {
  const n = s.rows;
  if (s.cols !== n) throw new Error(`symmetricEigen needs a square matrix, got ${s.rows}x${s.cols}`);
  const a = Float64Array.from(s.data);
  const v = matrix(n, n);
  for (let i = 0; i < n; i++) v.data[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p]! ** 2;
      for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v.data[k * n + p]!;
          const vkq = v.data[k * n + q]!;
          v.data[k * n + p] = c * vkp - sn * vkq;
          v.data[k * n + q] = sn * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/** The symmetric square root of a positive semi-definite matrix (negative eigenvalues from rounding count as 0). */
export function sqrtPsd(s: Matrix): Matrix {
  const { values, vectors } = symmetricEigen(s);
  const n = s.rows;
  const out = matrix(n, n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k]!, 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vi = vectors.data[i * n + k]! * r;
      for (let j = 0; j < n; j++) out.data[i * n + j]! += vi * vectors.data[j * n + k]!;
    }
  }
  return out;
}
