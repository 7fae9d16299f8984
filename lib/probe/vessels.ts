// Vessel morphology of an image, to measure "radial vs twisted" directly.
//
// Vesselness is Frangi's (1998) multiscale filter for dark tubes on a brighter
// background (vessels in fundus and NBI images are dark in the green channel):
// - at each scale s, the Hessian of the green channel (values in [0, 1]) comes from
//   Gaussian derivative filters, normalised by s^2. The kernels are the sampled,
//   normalised Gaussian truncated at 4 s, and the border is mirrored (a b | b a), so
//   the numbers equal scipy.ndimage.gaussian_filter's with `order`.
// - with eigenvalues |l1| <= |l2|, V = exp(-Rb^2 / 2 beta^2) (1 - exp(-S^2 / 2 c^2)),
//   where Rb = l1 / l2 and S = sqrt(l1^2 + l2^2), and V = 0 where l2 <= 0 (a bright
//   ridge). beta = 0.5; c is half the largest S of the image at that scale.
// - V is the maximum over the scales, and the vessel direction (across the l2
//   eigenvector) is taken at the scale that gave it.
// From V (used as a weight) and the direction theta, per image:
// - density: the mean of V;
// - coherence: in each cell of a 4 x 4 grid, |sum V e^{2i theta}| / sum V (1 where the
//   vessels run parallel, near 0 in a tangle), averaged over the cells weighted by
//   their sum of V;
// - radial alignment: the V-weighted mean of cos^2(theta - phi), phi the direction from
//   the image centre (1 radial, 0.5 for random directions, 0 circular);
// - tortuosity: the V-weighted mean of |d theta / ds| along the vessel direction
//   (central differences of the unit doubled-angle field), in radians per image width.
export interface VesselMorphology {
  density: number;
  coherence: number;
  radial: number;
  tortuosity: number;
}

export const MORPHOLOGY_KEYS: readonly (keyof VesselMorphology)[] = ['density', 'coherence', 'radial', 'tortuosity'];

/** The Frangi scales, in pixels of a 64-px image (scaled with the image side). */
export const FRANGI_SCALES = [1, 1.5, 2, 3];
const BETA = 0.5;
const GRID = 4;

/** scipy.ndimage's Gaussian kernel of derivative `order` (0, 1, 2), radius int(4 s + 0.5), as a convolution kernel. */
export function gaussianKernel(sigma: number, order: 0 | 1 | 2): { radius: number; k: Float64Array } {
  const radius = Math.floor(4 * sigma + 0.5);
  const s2 = sigma * sigma;
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) sum += k[x + radius] = Math.exp((-0.5 / s2) * x * x);
  for (let x = -radius; x <= radius; x++) {
    const phi = k[x + radius]! / sum;
    k[x + radius] = order === 0 ? phi : order === 1 ? (-x / s2) * phi : ((x * x) / (s2 * s2) - 1 / s2) * phi;
  }
  return { radius, k };
}

/** Mirror index into [0, n): scipy's 'reflect' (d c b a | a b c d | d c b a). */
function reflect(i: number, n: number): number {
  const period = 2 * n;
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j - 1;
  return j;
}

/** Convolve along x (axis 1) or y (axis 0) of a size x size image. */
function convolve1d(img: Float64Array, size: number, kernel: { radius: number; k: Float64Array }, axis: 0 | 1): Float64Array {
  const out = new Float64Array(size * size);
  const { radius, k } = kernel;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let t = -radius; t <= radius; t++) {
        const v = axis === 1 ? img[y * size + reflect(x - t, size)]! : img[reflect(y - t, size) * size + x]!;
        acc += k[t + radius]! * v;
      }
      out[y * size + x] = acc;
    }
  }
  return out;
}

/** Frangi vesselness (max over scales) and the vessel direction at the best scale. */
export function frangi(gray: Float64Array, size: number, scales: readonly number[] = FRANGI_SCALES.map((s) => (s * size) / 64)): { v: Float64Array; theta: Float64Array } {
  const v = new Float64Array(size * size);
  const theta = new Float64Array(size * size);
  for (const s of scales) {
    const [g0, g1, g2] = [gaussianKernel(s, 0), gaussianKernel(s, 1), gaussianKernel(s, 2)];
    const s2 = s * s;
    const hxx = convolve1d(convolve1d(gray, size, g2, 1), size, g0, 0);
    const hyy = convolve1d(convolve1d(gray, size, g0, 1), size, g2, 0);
    const hxy = convolve1d(convolve1d(gray, size, g1, 1), size, g1, 0);
    const l1 = new Float64Array(size * size);
    const l2 = new Float64Array(size * size);
    let maxS = 0;
    for (let i = 0; i < size * size; i++) {
      const [a, b, c] = [hxx[i]! * s2, hxy[i]! * s2, hyy[i]! * s2];
      const mean = (a + c) / 2;
      const root = Math.sqrt(((a - c) / 2) ** 2 + b * b);
      const [e1, e2] = [mean + root, mean - root];
      // order by magnitude, |l1| <= |l2|; on a tie l1 is the smaller
      if (Math.abs(e2) <= Math.abs(e1)) [l1[i], l2[i]] = [e2, e1];
      else [l1[i], l2[i]] = [e1, e2];
      maxS = Math.max(maxS, Math.hypot(e1, e2));
    }
    const c = maxS / 2;
    for (let i = 0; i < size * size; i++) {
      const [a, b, d] = [hxx[i]!, hxy[i]!, hyy[i]!];
      const [e1, e2] = [l1[i]!, l2[i]!];
      if (e2 <= 0 || c === 0) continue;
      const rb = e1 / e2;
      const S2 = e1 * e1 + e2 * e2;
      const value = Math.exp(-(rb * rb) / (2 * BETA * BETA)) * (1 - Math.exp(-S2 / (2 * c * c)));
      if (value > v[i]!) {
        v[i] = value;
        // the largest eigenvalue's eigenvector points across the vessel; the vessel runs at 90 degrees to it
        theta[i] = 0.5 * Math.atan2(2 * b, a - d) + Math.PI / 2;
      }
    }
  }
  return { v, theta };
}

/** The green channel of a planar (CHW) RGB image with values 0-255, scaled to [0, 1]. */
export function greenChannel(chw: ArrayLike<number>, size: number): Float64Array {
  const plane = size * size;
  const g = new Float64Array(plane);
  for (let i = 0; i < plane; i++) g[i] = chw[plane + i]! / 255;
  return g;
}

/** The four morphology figures of one image (see the file's header). */
export function vesselMorphology(gray: Float64Array, size: number): VesselMorphology {
  const { v, theta } = frangi(gray, size);
  const n = size * size;
  const c2 = new Float64Array(n);
  const s2 = new Float64Array(n);
  for (let i = 0; i < n; i++) [c2[i], s2[i]] = [Math.cos(2 * theta[i]!), Math.sin(2 * theta[i]!)];
  const centre = (size - 1) / 2;
  const cells = Array.from({ length: GRID * GRID }, () => ({ w: 0, c: 0, s: 0 }));
  let [wSum, radial, tort] = [0, 0, 0];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const w = v[i]!;
      wSum += w;
      const cell = cells[Math.floor((y * GRID) / size) * GRID + Math.floor((x * GRID) / size)]!;
      cell.w += w;
      cell.c += w * c2[i]!;
      cell.s += w * s2[i]!;
      const phi = Math.atan2(y - centre, x - centre);
      radial += w * Math.cos(theta[i]! - phi) ** 2;
      // derivative of the doubled-angle unit vector along the vessel: |d(2 theta)/ds| = 2 |d theta / ds|
      const [xm, xp, ym, yp] = [reflect(x - 1, size), reflect(x + 1, size), reflect(y - 1, size), reflect(y + 1, size)];
      const dcx = (c2[y * size + xp]! - c2[y * size + xm]!) / 2;
      const dsx = (s2[y * size + xp]! - s2[y * size + xm]!) / 2;
      const dcy = (c2[yp * size + x]! - c2[ym * size + x]!) / 2;
      const dsy = (s2[yp * size + x]! - s2[ym * size + x]!) / 2;
      const [ux, uy] = [Math.cos(theta[i]!), Math.sin(theta[i]!)];
      tort += (w * Math.hypot(ux * dcx + uy * dcy, ux * dsx + uy * dsy)) / 2;
    }
  }
  if (wSum === 0) return { density: 0, coherence: 0, radial: 0.5, tortuosity: 0 };
  const coherence = cells.reduce((acc, cell) => acc + Math.hypot(cell.c, cell.s), 0) / wSum;
  return { density: wSum / n, coherence, radial: radial / wSum, tortuosity: (tort / wSum) * size };
}

export interface MorphologyProfile {
  /** the class's name */
  name: string;
  images: number;
  mean: VesselMorphology;
}

/** Per-class means of each image's morphology. */
export function classProfiles(per: VesselMorphology[], labels: readonly number[], classes: readonly string[]): MorphologyProfile[] {
  return classes
    .map((name, k) => {
      const mine = per.filter((_, i) => labels[i] === k);
      const mean = Object.fromEntries(MORPHOLOGY_KEYS.map((key) => [key, mine.reduce((s, m) => s + m[key], 0) / Math.max(1, mine.length)])) as unknown as VesselMorphology;
      return { name, images: mine.length, mean };
    })
    .filter((p) => p.images > 0);
}

/** The geometry figures the vessel score compares (density is reported, not compared). */
export const GEOMETRY_KEYS: readonly (keyof VesselMorphology)[] = ['coherence', 'radial', 'tortuosity'];

/**
 * Vessel-geometry distance of a candidate to the target (lower is closer): for each
 * target class, the Euclidean distance of coherence, radial alignment and tortuosity to
 * the nearest candidate class, each figure divided by its standard deviation over the
 * target's images; the mean over the target's classes. A bridge with no class whose
 * vessels look like the malignant class's is far from that class, whatever it does
 * for the others.
 */
export function vesselDistance(target: MorphologyProfile[], targetImages: VesselMorphology[], candidate: MorphologyProfile[]): number {
  const sd = GEOMETRY_KEYS.map((key) => {
    const xs = targetImages.map((m) => m[key]);
    const mu = xs.reduce((s, x) => s + x, 0) / xs.length;
    return Math.sqrt(xs.reduce((s, x) => s + (x - mu) ** 2, 0) / Math.max(1, xs.length - 1)) || 1;
  });
  const dist = (a: VesselMorphology, b: VesselMorphology) => Math.sqrt(GEOMETRY_KEYS.reduce((s, key, j) => s + ((a[key] - b[key]) / sd[j]!) ** 2, 0));
  return target.reduce((s, t) => s + Math.min(...candidate.map((c) => dist(t.mean, c.mean))), 0) / target.length;
}
