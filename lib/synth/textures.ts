// Deterministic source-like domain: generic textures and shapes, one visual
// family per class, to pretrain a network when ImageNet weights are not at hand.
// Colours, scales, angles and positions are random in every class, so only the
// *structure* (periodic, radial, wavy, blobby, polygonal...) tells classes apart,
// which is what makes the learned low-level filters transferable.
// Edges are anti-aliased through signed distances in pixels: t = clamp(d + 0.5).
import { Rng } from '../util/rng.js';
import { lerp, sensorNoise, valueNoise } from './raster.js';

export const SOURCE_CLASSES = [
  'stripes', 'checker', 'dots', 'rings', 'waves', 'grid',
  'blobs', 'noise', 'gradient', 'triangles', 'squares', 'circles',
] as const;
export type SourceClass = (typeof SOURCE_CLASSES)[number];

type Rgb = [number, number, number];

interface Img {
  size: number;
  rgb: Float32Array;
}

/** t in [0, 1] at a pixel centre: 0 = first colour, 1 = second. */
type Field = (x: number, y: number) => number;

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const frac = (v: number): number => v - Math.floor(v);
const luma = (c: Rgb): number => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

// ---- colours ---------------------------------------------------------------

function hsv(h: number, s: number, v: number): Rgb {
  const k = (n: number): number => {
    const m = (n + h * 6) % 6;
    return 255 * v * (1 - s * Math.max(0, Math.min(m, 4 - m, 1)));
  };
  return [k(5), k(3), k(1)];
}

const randomColor = (rng: Rng): Rgb => hsv(rng.nextFloat(), rng.nextRange(0.15, 1), rng.nextRange(0.15, 1));

/** A colour whose luminance differs from every colour in `others` by at least 60, so patterns stay visible. */
function contrasting(rng: Rng, others: Rgb[]): Rgb {
  let c = randomColor(rng);
  for (let tries = 0; tries < 30 && others.some((o) => Math.abs(luma(o) - luma(c)) < 60); tries++) c = randomColor(rng);
  if (others.some((o) => Math.abs(luma(o) - luma(c)) < 60)) {
    const dark = luma(others[0]!) > 128;
    c = dark ? [c[0] * 0.2, c[1] * 0.2, c[2] * 0.2] : [lerp(c[0], 255, 0.85), lerp(c[1], 255, 0.85), lerp(c[2], 255, 0.85)];
  }
  return c;
}

function fillField(img: Img, a: Rgb, b: Rgb, field: Field): void {
  for (let y = 0; y < img.size; y++) {
    for (let x = 0; x < img.size; x++) {
      const t = field(x + 0.5, y + 0.5);
      const i = (y * img.size + x) * 3;
      for (let ch = 0; ch < 3; ch++) img.rgb[i + ch] = lerp(a[ch]!, b[ch]!, t);
    }
  }
}

/** Two contrasting colours blended by `field`. */
function paintField(img: Img, rng: Rng, field: Field): void {
  const a = randomColor(rng);
  fillField(img, a, contrasting(rng, [a]), field);
}

// ---- periodic patterns -----------------------------------------------------------

/** Random frame: origin, rotation, period. Coordinates along/across in periods. */
interface Frame {
  cos: number;
  sin: number;
  ox: number;
  oy: number;
  period: number;
}

function randomFrame(img: Img, rng: Rng, minP: number, maxP: number): Frame {
  const a = rng.nextRange(0, Math.PI);
  return { cos: Math.cos(a), sin: Math.sin(a), ox: rng.nextRange(0, img.size), oy: rng.nextRange(0, img.size), period: rng.nextRange(minP, maxP) * img.size };
}

const along = (f: Frame, x: number, y: number): number => ((x - f.ox) * f.cos + (y - f.oy) * f.sin) / f.period;
const across = (f: Frame, x: number, y: number): number => (-(x - f.ox) * f.sin + (y - f.oy) * f.cos) / f.period;

/** Signed distance (px, > 0 inside) to the edges of a band [0, duty) repeating with the period. */
function bandDistance(phase: number, duty: number, period: number): number {
  const p = frac(phase);
  return (p < duty ? Math.min(p, duty - p) : -Math.min(p - duty, 1 - p)) * period;
}

const band = (phase: number, duty: number, period: number): number => clamp01(bandDistance(phase, duty, period) + 0.5);

function stripes(img: Img, rng: Rng): void {
  const f = randomFrame(img, rng, 0.06, 0.3);
  const duty = rng.nextRange(0.25, 0.75);
  paintField(img, rng, (x, y) => band(along(f, x, y), duty, f.period));
}

function checker(img: Img, rng: Rng): void {
  const f = randomFrame(img, rng, 0.12, 0.4);
  paintField(img, rng, (x, y) => {
    const du = bandDistance(along(f, x, y), 0.5, f.period);
    const dv = bandDistance(across(f, x, y), 0.5, f.period);
    return clamp01(Math.sign(du * dv) * Math.min(Math.abs(du), Math.abs(dv)) + 0.5);
  });
}

/** Polka dots on a square or hexagonal lattice. */
function dots(img: Img, rng: Rng): void {
  const f = randomFrame(img, rng, 0.08, 0.25);
  const hex = rng.nextFloat() < 0.5;
  const r = rng.nextRange(0.15, 0.38) * f.period;
  paintField(img, rng, (x, y) => {
    const v = across(f, x, y) * (hex ? 2 / Math.sqrt(3) : 1);
    const row = Math.round(v);
    const u = along(f, x, y) + (hex && row % 2 !== 0 ? 0.5 : 0);
    const dv = (v - row) * (hex ? Math.sqrt(3) / 2 : 1);
    return clamp01(r - Math.hypot(u - Math.round(u), dv) * f.period + 0.5);
  });
}

function rings(img: Img, rng: Rng): void {
  const cx = rng.nextRange(-0.2, 1.2) * img.size;
  const cy = rng.nextRange(-0.2, 1.2) * img.size;
  const period = rng.nextRange(0.06, 0.2) * img.size;
  const duty = rng.nextRange(0.3, 0.7);
  const phase = rng.nextFloat();
  paintField(img, rng, (x, y) => band(Math.hypot(x - cx, y - cy) / period + phase, duty, period));
}

/** Parallel lines displaced by a sine or a zigzag across their direction. */
function waves(img: Img, rng: Rng): void {
  const f = randomFrame(img, rng, 0.08, 0.22);
  const wavelength = rng.nextRange(1.5, 4);
  const amplitude = rng.nextRange(0.4, 1.1);
  const zigzag = rng.nextFloat() < 0.4;
  const duty = rng.nextRange(0.25, 0.5);
  const shape = (s: number): number => (zigzag ? 4 * Math.abs(frac(s) - 0.5) - 1 : Math.sin(2 * Math.PI * s));
  // The displacement tilts the lines, so the across-line distance shrinks by the slope: correct the AA width.
  const slope = amplitude * (zigzag ? 4 : 2 * Math.PI) / wavelength;
  paintField(img, rng, (x, y) => {
    const phase = across(f, x, y) + amplitude * shape(along(f, x, y) / wavelength);
    return band(phase, duty, f.period / Math.sqrt(1 + slope * slope));
  });
}

/** Thin lines in two directions (a mesh), unlike the checker's filled cells. */
function grid(img: Img, rng: Rng): void {
  const f = randomFrame(img, rng, 0.1, 0.3);
  const duty = rng.nextRange(0.08, 0.22);
  const skew = rng.nextFloat() < 0.3 ? rng.nextRange(-0.5, 0.5) : 0;
  paintField(img, rng, (x, y) => {
    const u = along(f, x, y);
    const v = across(f, x, y) + skew * u;
    return Math.max(band(u, duty, f.period), band(v, duty, f.period / Math.sqrt(1 + skew * skew)));
  });
}

// ---- noise-based ---------------------------------------------------------------------

/** Organic blobs: smooth noise thresholded with a crisp edge (camouflage-like). */
function blobs(img: Img, rng: Rng): void {
  const s = img.size;
  const field = valueNoise(s, 3 + rng.nextInt(5), rng);
  const detail = valueNoise(s, 10 + rng.nextInt(6), rng);
  const threshold = rng.nextRange(-0.2, 0.2);
  // About a pixel of ramp: the noise changes by ~2 / (size / cells) per pixel.
  const sharp = s / 8;
  paintField(img, rng, (x, y) => {
    const i = Math.floor(y) * s + Math.floor(x);
    return clamp01((field[i]! + 0.25 * detail[i]! - threshold) * sharp + 0.5);
  });
}

/** Grainy fractal noise, continuous tones: texture without edges or shapes. */
function noise(img: Img, rng: Rng): void {
  const s = img.size;
  const base = Math.max(4, Math.round(s / rng.nextRange(3, 8)));
  const octaves = [valueNoise(s, base, rng), valueNoise(s, Math.min(s, base * 2), rng), valueNoise(s, Math.min(s, base * 4), rng)];
  const contrast = rng.nextRange(0.8, 1.4);
  paintField(img, rng, (x, y) => {
    const i = Math.floor(y) * s + Math.floor(x);
    return clamp01(0.5 + contrast * 0.5 * (octaves[0]![i]! * 0.55 + octaves[1]![i]! * 0.3 + octaves[2]![i]! * 0.25));
  });
}

/** Smooth linear or radial gradient: large-scale change only. */
function gradient(img: Img, rng: Rng): void {
  const s = img.size;
  const a = rng.nextRange(0, 2 * Math.PI);
  const [cx, cy] = [rng.nextRange(0, s), rng.nextRange(0, s)];
  const radial = rng.nextFloat() < 0.4;
  const reach = rng.nextRange(0.6, 1.2) * s;
  const offset = rng.nextRange(-0.2, 0.2);
  paintField(img, rng, (x, y) =>
    radial
      ? clamp01(Math.hypot(x - cx, y - cy) / reach + offset)
      : clamp01(0.5 + ((x - s / 2) * Math.cos(a) + (y - s / 2) * Math.sin(a)) / reach + offset),
  );
}

// ---- shapes ----------------------------------------------------------------------------

/** Signed distance (px, > 0 inside) of a shape centred at the origin, in its own rotated frame. */
type Shape = (qx: number, qy: number, r: number) => number;

const circle: Shape = (qx, qy, r) => r - Math.hypot(qx, qy);
const square: Shape = (qx, qy, r) => r - Math.max(Math.abs(qx), Math.abs(qy));
/** Equilateral triangle with circumradius r: three half-planes at the inradius r / 2. */
const triangle: Shape = (qx, qy, r) => {
  let d = Infinity;
  for (let k = 0; k < 3; k++) {
    const a = Math.PI / 2 + (2 * Math.PI * k) / 3;
    d = Math.min(d, r / 2 - (qx * Math.cos(a) + qy * Math.sin(a)));
  }
  return d;
};

/** A few shapes of one kind, random size/rotation/colour, filled or outlined, on a plain or softly shaded ground. */
function shapes(img: Img, rng: Rng, shape: Shape): void {
  const s = img.size;
  const ground = randomColor(rng);
  const shade = contrasting(rng, [ground]);
  const tilt = rng.nextRange(0, 0.25);
  const a = rng.nextRange(0, 2 * Math.PI);
  fillField(img, ground, shade, (x, y) => clamp01(tilt * (0.5 + ((x - s / 2) * Math.cos(a) + (y - s / 2) * Math.sin(a)) / s)));
  const count = 2 + rng.nextInt(7);
  for (let k = 0; k < count; k++) {
    const r = rng.nextRange(0.08, 0.28) * s;
    const [cx, cy] = [rng.nextRange(0.1, 0.9) * s, rng.nextRange(0.1, 0.9) * s];
    const rot = rng.nextRange(0, 2 * Math.PI);
    const outline = rng.nextFloat() < 0.3 ? rng.nextRange(0.08, 0.2) * r : 0;
    stamp(img, contrasting(rng, [ground]), cx, cy, r, (qx, qy) => {
      const [u, v] = [qx * Math.cos(rot) + qy * Math.sin(rot), -qx * Math.sin(rot) + qy * Math.cos(rot)];
      const d = shape(u, v, r);
      return outline > 0 ? outline / 2 - Math.abs(d - outline / 2) : d;
    });
  }
}

/** Composite one shape (given by its signed distance around (cx, cy)) within its bounding box. */
function stamp(img: Img, color: Rgb, cx: number, cy: number, r: number, sd: (qx: number, qy: number) => number): void {
  const s = img.size;
  const [x0, x1] = [Math.max(0, Math.floor(cx - r - 2)), Math.min(s - 1, Math.ceil(cx + r + 2))];
  const [y0, y1] = [Math.max(0, Math.floor(cy - r - 2)), Math.min(s - 1, Math.ceil(cy + r + 2))];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const t = clamp01(sd(x + 0.5 - cx, y + 0.5 - cy) + 0.5);
      if (t === 0) continue;
      const i = (y * s + x) * 3;
      for (let ch = 0; ch < 3; ch++) img.rgb[i + ch] = lerp(img.rgb[i + ch]!, color[ch]!, t);
    }
  }
}

const PAINTERS: Record<SourceClass, (img: Img, rng: Rng) => void> = {
  stripes, checker, dots, rings, waves, grid, blobs, noise, gradient,
  triangles: (img, rng) => shapes(img, rng, triangle),
  squares: (img, rng) => shapes(img, rng, square),
  circles: (img, rng) => shapes(img, rng, circle),
};

// ---- public API ---------------------------------------------------------------------------

/** Mild uneven lighting and sensor noise, the same in every class, then clamp to bytes. */
function finish(img: Img, rng: Rng): Uint8Array {
  const s = img.size;
  const [gx, gy] = [rng.nextRange(-0.12, 0.12) / s, rng.nextRange(-0.12, 0.12) / s];
  const sigma = rng.nextRange(1.5, 6);
  const out = new Uint8ClampedArray(img.rgb.length);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const i = (y * s + x) * 3;
      const light = 1 + gx * (x - s / 2) + gy * (y - s / 2);
      const n = sensorNoise(sigma, rng);
      for (let ch = 0; ch < 3; ch++) out[i + ch] = img.rgb[i + ch]! * light + n;
    }
  }
  return new Uint8Array(out.buffer);
}

/** Interleaved RGB (size*size*3) image of source class `cls` (an index into SOURCE_CLASSES); deterministic. */
export function renderSourceImage(cls: number, size: number, seed: number): Uint8Array {
  const name = SOURCE_CLASSES[cls];
  if (!Number.isInteger(cls) || name === undefined) throw new Error(`unknown source class ${cls} (expected 0-${SOURCE_CLASSES.length - 1})`);
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new Error(`image size must be an integer in [8, 4096], got ${size}`);
  const rng = new Rng(seed);
  const img: Img = { size, rgb: new Float32Array(size * size * 3) };
  PAINTERS[name](img, rng);
  return finish(img, rng);
}
