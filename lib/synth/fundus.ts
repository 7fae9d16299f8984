// Deterministic synthetic stand-ins for diabetic-retinopathy fundus photos (the
// paper's intermediate domain). What matters for the paper's argument is the
// vessel *shape*: fundus vessels leave the optic disc and run outward radially,
// smooth and gently curving, like benign laryngeal vessels (vessels.ts) and
// unlike the tangled malignant ones. Severity (0-4) is carried by lesions only:
// microaneurysms, exudates, haemorrhages, cotton-wool spots, new vessels.
//
// Each part of the picture draws from its own random stream (mixSeed(seed, k)),
// so the same seed gives the same eye at every level (only the lesions change)
// and fundusGeometry() can recompute the layout without rendering.
import { Rng, mixSeed } from '../util/rng.js';
import { lerp, smoothstep, valueNoise, withSensorNoise } from './raster.js';

export type FundusLevel = 0 | 1 | 2 | 3 | 4;
export const FUNDUS_LEVELS: readonly FundusLevel[] = [0, 1, 2, 3, 4];

type Rgb = [number, number, number];

/** Where things are, in pixels; `side` +1 puts the optic disc right of centre. */
export interface FundusGeometry {
  cx: number;
  cy: number;
  radius: number;
  /** Half-height of the visible band: many fundus cameras crop the disc top and bottom. */
  crop: number;
  odx: number;
  ody: number;
  odRadius: number;
  /** Fovea (centre of the macula), temporal to the optic disc. */
  fx: number;
  fy: number;
  side: 1 | -1;
}

interface Canvas {
  size: number;
  g: FundusGeometry;
  /** Design unit: radius / 100, so anatomy scales with the image. */
  u: number;
  rgb: Float32Array;
  mask: Mask;
}

/** A polyline with a half-width per point, in pixels. */
interface Stroke {
  xs: number[];
  ys: number[];
  hw: number[];
}

/** multiply: vessels and blood darken what is below (keeps contrast under vignetting); blend: paint over. */
interface Paint {
  mode: 'multiply' | 'blend';
  color: Rgb;
  opacity: number;
  /** Edge ramp in px (1 = crisp anti-aliasing). */
  soft: number;
}

const STREAM = { layout: 1, retina: 2, vessels: 3, lesions: 4, noise: 5 } as const;

const stream = (seed: number, k: number): Rng => new Rng(mixSeed(seed, k));
const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const mixRgb = (a: Rgb, b: Rgb, t: number): Rgb => [lerp(a[0], b[0], t), lerp(a[1], b[1], t), lerp(a[2], b[2], t)];
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.nextInt(xs.length)] as T;
const angleDiff = (to: number, from: number): number => Math.atan2(Math.sin(to - from), Math.cos(to - from));
const rangeInt = (rng: Rng, [lo, hi]: readonly [number, number]): number => lo + rng.nextInt(hi - lo + 1);

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new Error(`image size must be an integer in [16, 4096], got ${size}`);
}

/** The layout of the eye for (size, seed): the same for every severity level. */
export function fundusGeometry(size: number, seed: number): FundusGeometry {
  checkSize(size);
  const rng = stream(seed, STREAM.layout);
  const side = rng.nextFloat() < 0.5 ? 1 : -1; // left or right eye
  const radius = size * rng.nextRange(0.43, 0.5);
  const cx = size / 2 + 0.012 * size * rng.nextGaussian();
  const cy = size / 2 + 0.012 * size * rng.nextGaussian();
  const crop = rng.nextFloat() < 0.35 ? radius * rng.nextRange(0.82, 0.96) : size;
  const odRadius = radius * rng.nextRange(0.11, 0.14);
  const odx = cx + side * radius * rng.nextRange(0.3, 0.42);
  const ody = cy + radius * rng.nextRange(-0.08, 0.08);
  // The fovea lies about 2.5 disc diameters temporal to the disc, a little below it.
  const fovea = 2 * odRadius * rng.nextRange(2.2, 2.7);
  return { cx, cy, radius, crop, odx, ody, odRadius, fx: odx - side * fovea, fy: ody + odRadius * rng.nextRange(0, 0.5), side };
}

/** Coverage of the camera aperture at a pixel centre (soft edge of `edge` px). */
function aperture(g: FundusGeometry, x: number, y: number, edge: number): number {
  const r = Math.sqrt((x - g.cx) ** 2 + (y - g.cy) ** 2);
  return clamp01((g.radius - r) / edge + 0.5) * clamp01((g.crop - Math.abs(y - g.cy)) / edge + 0.5);
}

// ---- background ------------------------------------------------------------

// Retinal pigmentation varies a lot between people: light orange to deep red-brown.
const RETINA: readonly Rgb[] = [
  [226, 116, 52],
  [204, 90, 40],
  [176, 68, 34],
  [234, 138, 70],
  [190, 92, 58],
];

interface Lighting {
  base: Rgb;
  gain: number;
  vignette: number;
  tilt: [number, number];
  macula: number;
  glow: number;
  black: number;
}

function lighting(rng: Rng): Lighting {
  return {
    base: mixRgb(pick(rng, RETINA), pick(rng, RETINA), rng.nextFloat()),
    gain: rng.nextRange(0.8, 1.1),
    vignette: rng.nextRange(0.35, 0.7),
    tilt: [rng.nextRange(-0.15, 0.15), rng.nextRange(-0.15, 0.15)],
    macula: rng.nextRange(0.2, 0.4),
    glow: rng.nextRange(0.08, 0.22),
    black: rng.nextRange(1, 9),
  };
}

/** Orange-red retina inside the aperture: uneven illumination, vignetting, dark macula, glow round the disc. */
function paintRetina(c: Canvas, rng: Rng): void {
  const { g, size } = c;
  const L = lighting(rng);
  const shade = valueNoise(size, 3, rng);
  const mottle = valueNoise(size, 16, rng);
  const sm = 2 * (g.odRadius * 1.6) ** 2;
  const sg = 2 * (g.odRadius * 2.4) ** 2;
  const edge = Math.max(0.8, 0.006 * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const px = x + 0.5;
      const py = y + 0.5;
      const dx = (px - g.cx) / g.radius;
      const dy = (py - g.cy) / g.radius;
      const r = Math.min(1, Math.sqrt(dx * dx + dy * dy));
      let light = L.gain * (1 + 0.1 * shade[i]! + 0.04 * mottle[i]! + L.tilt[0] * dx + L.tilt[1] * dy);
      light *= 1 - L.vignette * r * r * r;
      light *= 1 - L.macula * Math.exp(-((px - g.fx) * (px - g.fx) + (py - g.fy) * (py - g.fy)) / sm);
      light *= 1 + L.glow * Math.exp(-((px - g.odx) * (px - g.odx) + (py - g.ody) * (py - g.ody)) / sg);
      const a = aperture(g, px, py, edge);
      for (let ch = 0; ch < 3; ch++) c.rgb[i * 3 + ch] = lerp(L.black, L.base[ch]! * light, a);
    }
  }
}

/** Bright yellowish optic disc, slightly tall, with a paler cup. */
function paintOpticDisc(c: Canvas, rng: Rng): void {
  const { g } = c;
  const rim: Rgb = [rng.nextRange(240, 255), rng.nextRange(190, 230), rng.nextRange(120, 170)];
  const cup: Rgb = [255, rng.nextRange(235, 250), rng.nextRange(195, 225)];
  const strength = rng.nextRange(0.75, 0.95);
  const tall = rng.nextRange(1.04, 1.15);
  const cupR = rng.nextRange(0.3, 0.55);
  const cupX = g.odx - g.side * g.odRadius * rng.nextRange(0, 0.2);
  const [x0, x1] = span(g.odx, g.odx, 1.3 * g.odRadius * tall, c.size);
  const [y0, y1] = span(g.ody, g.ody, 1.3 * g.odRadius * tall, c.size);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const k = y * c.size + x;
      const d = Math.hypot(x + 0.5 - g.odx, (y + 0.5 - g.ody) / tall) / g.odRadius;
      const dc = Math.hypot(x + 0.5 - cupX, (y + 0.5 - g.ody) / tall) / (g.odRadius * cupR);
      const a = strength * (1 - smoothstep(clamp01((d - 0.75) / 0.45)));
      const b = 0.85 * (1 - smoothstep(clamp01(dc - 0.4)));
      for (let ch = 0; ch < 3; ch++) c.rgb[k * 3 + ch] = lerp(lerp(c.rgb[k * 3 + ch]!, rim[ch]!, a), cup[ch]!, b);
    }
  }
}

// ---- rasterisation ------------------------------------------------------------

/**
 * Coverage of the shape being drawn, max-accumulated over its parts (so joints
 * and overlaps don't darken twice), then composited once. Rather than clearing
 * a bounding box per shape (a long diagonal vessel's box is most of the image),
 * each pixel records which shape last wrote it and each row the span touched.
 */
interface Mask {
  value: Float32Array;
  owner: Int32Array;
  shape: number;
  rowLo: Int32Array;
  rowHi: Int32Array;
  yLo: number;
  yHi: number;
}

function newMask(size: number): Mask {
  return {
    value: new Float32Array(size * size), owner: new Int32Array(size * size), shape: 0,
    rowLo: new Int32Array(size).fill(size), rowHi: new Int32Array(size).fill(-1), yLo: size, yHi: -1,
  };
}

function touchRow(m: Mask, y: number, x0: number, x1: number): void {
  if (x0 < m.rowLo[y]!) m.rowLo[y] = x0;
  if (x1 > m.rowHi[y]!) m.rowHi[y] = x1;
  if (y < m.yLo) m.yLo = y;
  if (y > m.yHi) m.yHi = y;
}

function cover(m: Mask, k: number, v: number): void {
  if (m.owner[k] !== m.shape) {
    m.owner[k] = m.shape;
    m.value[k] = v;
  } else if (v > m.value[k]!) m.value[k] = v;
}

/** Pixel range [lo, hi] within reach of [a, b] on an axis of `size` pixels. */
const span = (a: number, b: number, reach: number, size: number): [number, number] =>
  [Math.max(0, Math.floor(Math.min(a, b) - reach)), Math.min(size - 1, Math.ceil(Math.max(a, b) + reach))];

/** Coverage of a tapered segment. */
function coverSegment(c: Canvas, x0: number, y0: number, x1: number, y1: number, w0: number, w1: number, soft: number): void {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy || 1e-12;
  const reach = Math.max(w0, w1) + soft;
  const [bx0, bx1] = span(x0, x1, reach, c.size);
  const [by0, by1] = span(y0, y1, reach, c.size);
  for (let py = by0; py <= by1; py++) {
    touchRow(c.mask, py, bx0, bx1);
    const qy = py + 0.5 - y0;
    for (let px = bx0; px <= bx1; px++) {
      const qx = px + 0.5 - x0;
      const t = clamp01((qx * dx + qy * dy) / len2);
      const ex = qx - t * dx;
      const ey = qy - t * dy;
      const w = w0 + (w1 - w0) * t;
      // A vessel thinner than a pixel covers less of it: fade instead of drawing a hard hairline.
      const v = clamp01((w - Math.sqrt(ex * ex + ey * ey)) / soft + 0.5) * Math.min(1, w / 0.8);
      if (v > 0) cover(c.mask, py * c.size + px, v);
    }
  }
}

/** Coverage of a rotated ellipse. */
function coverEllipse(c: Canvas, x: number, y: number, rx: number, ry: number, angle: number, soft: number): void {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const reach = Math.max(rx, ry) + soft;
  const [bx0, bx1] = span(x, x, reach, c.size);
  const [by0, by1] = span(y, y, reach, c.size);
  for (let py = by0; py <= by1; py++) {
    touchRow(c.mask, py, bx0, bx1);
    const qy = py + 0.5 - y;
    for (let px = bx0; px <= bx1; px++) {
      const qx = px + 0.5 - x;
      const a = (qx * cos + qy * sin) / rx;
      const b = (-qx * sin + qy * cos) / ry;
      // Distance to the rim, approximately, in px: (1 - r) scaled by the smaller radius.
      const v = clamp01(((1 - Math.sqrt(a * a + b * b)) * Math.min(rx, ry)) / soft + 0.5);
      if (v > 0) cover(c.mask, py * c.size + px, v);
    }
  }
}

/** Composite the current shape with `paint`, then start a new one. */
function applyMask(c: Canvas, p: Paint): void {
  const m = c.mask;
  for (let y = m.yLo; y <= m.yHi; y++) {
    for (let k = y * c.size + m.rowLo[y]!; k <= y * c.size + m.rowHi[y]!; k++) {
      if (m.owner[k] !== m.shape) continue;
      const a = m.value[k]! * p.opacity;
      for (let ch = 0; ch < 3; ch++) {
        const v = c.rgb[k * 3 + ch]!;
        c.rgb[k * 3 + ch] = p.mode === 'multiply' ? v * (1 + (p.color[ch]! - 1) * a) : v + (p.color[ch]! - v) * a;
      }
    }
    m.rowLo[y] = c.size;
    m.rowHi[y] = -1;
  }
  m.yLo = c.size;
  m.yHi = -1;
  m.shape++;
}

/** Rasterise strokes as one shape (a tangle's crossings don't darken twice). */
function drawStrokes(c: Canvas, strokes: Stroke[], p: Paint): void {
  for (const s of strokes) {
    for (let i = 1; i < s.xs.length; i++) coverSegment(c, s.xs[i - 1]!, s.ys[i - 1]!, s.xs[i]!, s.ys[i]!, s.hw[i - 1]!, s.hw[i]!, p.soft);
  }
  applyMask(c, p);
}

/** A blob: overlapping ellipses [x, y, rx, ry, angle] drawn as one shape. */
function drawBlob(c: Canvas, parts: [number, number, number, number, number][], p: Paint): void {
  for (const [x, y, rx, ry, angle] of parts) coverEllipse(c, x, y, rx, ry, angle, p.soft);
  applyMask(c, p);
}

// ---- vessels -------------------------------------------------------------------

interface VesselSpec {
  x: number;
  y: number;
  heading: number;
  hw: number;
  length: number;
  /** Final deviation from the radial direction (rad): the arcades' gentle sweep round the macula. */
  sweep: number;
  depth: number;
  paint: Paint;
}

/**
 * Walk outward from the disc. The heading is pulled toward the radial direction
 * from the disc centre (plus the sweep, growing along the vessel), with a
 * little smooth wander: vessels stay radial yet never ruler-straight.
 */
function growVessel(c: Canvas, rng: Rng, v: VesselSpec): Stroke {
  const { g } = c;
  const step = Math.max(0.6, 1.3 * c.u);
  const steps = Math.max(2, Math.round(v.length / step));
  const taper = 1 - 0.3 ** (1 / steps);
  const s: Stroke = { xs: [v.x], ys: [v.y], hw: [v.hw] };
  let [x, y, heading, curl, hw] = [v.x, v.y, v.heading, 0, v.hw];
  for (let i = 1; i <= steps; i++) {
    curl = 0.92 * curl + (0.006 / c.u) * rng.nextGaussian();
    const radial = Math.atan2(y - g.ody, x - g.odx);
    const outside = Math.hypot(x - g.odx, y - g.ody) > g.odRadius;
    heading += curl * step + (outside ? 0.06 * angleDiff(radial + v.sweep * smoothstep(i / steps), heading) : 0);
    x += Math.cos(heading) * step;
    y += Math.sin(heading) * step;
    hw = Math.max(0.3, hw * (1 - taper));
    s.xs.push(x);
    s.ys.push(y);
    s.hw.push(hw);
    if (aperture(g, x, y, 1) === 0) break;
  }
  return s;
}

/** Draw a vessel and, recursively, its smaller side branches (depth <= 2). */
function vesselTree(c: Canvas, rng: Rng, v: VesselSpec): void {
  const s = growVessel(c, rng, v);
  drawStrokes(c, [s], v.paint);
  if (v.depth >= 2 || s.xs.length < 8) return;
  const branches = v.depth === 0 ? 1 + rng.nextInt(3) : rng.nextInt(2);
  for (let b = 0; b < branches; b++) {
    const at = Math.floor(s.xs.length * rng.nextRange(0.2, 0.8));
    const dir = Math.atan2(s.ys[at + 1]! - s.ys[at]!, s.xs[at + 1]! - s.xs[at]!);
    vesselTree(c, rng, {
      x: s.xs[at]!, y: s.ys[at]!,
      heading: dir + (rng.nextFloat() < 0.5 ? -1 : 1) * rng.nextRange(0.35, 0.8),
      hw: s.hw[at]! * rng.nextRange(0.55, 0.75),
      length: (s.xs.length - at) * Math.max(0.6, 1.3 * c.u) * rng.nextRange(0.5, 0.9),
      sweep: 0, depth: v.depth + 1, paint: { ...v.paint, opacity: v.paint.opacity * rng.nextRange(0.85, 1) },
    });
  }
}

/** Veins: darker, wider; arteries: lighter, narrower (multiplicative darkening factors). */
function vesselPaint(rng: Rng, vein: boolean): Paint {
  const j = (): number => rng.nextRange(-0.05, 0.05);
  const color: Rgb = vein ? [0.66 + j(), 0.44 + j(), 0.5 + j()] : [0.8 + j(), 0.62 + j(), 0.68 + j()];
  return { mode: 'multiply', color, opacity: rng.nextRange(0.85, 1), soft: 1 };
}

function cupExit(g: FundusGeometry, rng: Rng, heading: number): { x: number; y: number; heading: number } {
  const r = g.odRadius * rng.nextRange(0.15, 0.4);
  return { x: g.odx + r * Math.cos(heading), y: g.ody + r * Math.sin(heading), heading };
}

/** Four artery/vein pairs (superior/inferior x temporal/nasal) plus a few small vessels. */
function paintVessels(c: Canvas, rng: Rng): void {
  const { g, u } = c;
  const temporal = g.side > 0 ? Math.PI : 0;
  const nasal = temporal + Math.PI;
  const trunks: [number, number][] = [
    [temporal + g.side * rng.nextRange(0.95, 1.35), -g.side], // superotemporal arcade, sweeps toward the macula
    [temporal - g.side * rng.nextRange(0.95, 1.35), g.side], // inferotemporal
    [nasal - g.side * rng.nextRange(0.3, 1.1), 0], // superonasal
    [nasal + g.side * rng.nextRange(0.3, 1.1), 0], // inferonasal
  ];
  for (const [heading, sweepSign] of trunks) {
    // Artery and vein of a pair leave the disc side by side but diverge.
    const split = (rng.nextFloat() < 0.5 ? -1 : 1) * rng.nextRange(0.12, 0.4);
    for (const vein of [true, false]) {
      vesselTree(c, rng, {
        // Emerge from the cup rim rather than all from one point (a dark knot).
        ...cupExit(g, rng, heading + (vein ? split : -split) / 2 + rng.nextRange(-0.08, 0.08)),
        hw: (vein ? rng.nextRange(1.4, 1.8) : rng.nextRange(1.0, 1.3)) * u,
        length: g.radius * rng.nextRange(1.0, 1.5), sweep: sweepSign * rng.nextRange(0.1, 0.35),
        depth: 0, paint: vesselPaint(rng, vein),
      });
    }
  }
  const small = 2 + rng.nextInt(4);
  for (let k = 0; k < small; k++) {
    vesselTree(c, rng, {
      ...cupExit(g, rng, rng.nextRange(0, 2 * Math.PI)), hw: rng.nextRange(0.5, 0.75) * u,
      length: g.radius * rng.nextRange(0.3, 0.7), sweep: 0, depth: 1, paint: vesselPaint(rng, rng.nextFloat() < 0.5),
    });
  }
}

// ---- lesions ---------------------------------------------------------------------

type Span = readonly [number, number];

interface LesionPlan {
  microaneurysms: Span;
  exudateClusters: Span;
  haemorrhages: Span;
  cottonWool: Span;
  newVessels: Span;
}

const NONE: Span = [0, 0];

// Overlapping ranges: neighbouring grades are learnable but not trivially apart.
const PLANS: Record<FundusLevel, LesionPlan> = {
  0: { microaneurysms: NONE, exudateClusters: NONE, haemorrhages: NONE, cottonWool: NONE, newVessels: NONE },
  1: { microaneurysms: [1, 5], exudateClusters: NONE, haemorrhages: NONE, cottonWool: NONE, newVessels: NONE },
  2: { microaneurysms: [4, 12], exudateClusters: [1, 3], haemorrhages: [0, 3], cottonWool: [0, 1], newVessels: NONE },
  3: { microaneurysms: [8, 20], exudateClusters: [2, 5], haemorrhages: [6, 14], cottonWool: [0, 3], newVessels: NONE },
  4: { microaneurysms: [8, 20], exudateClusters: [1, 5], haemorrhages: [4, 14], cottonWool: [0, 3], newVessels: [1, 3] },
};

/** A lesion site: mostly in the posterior pole round the macula, never on the optic disc. */
function lesionSite(c: Canvas, rng: Rng, spread: number): [number, number] {
  const { g } = c;
  const [ax, ay] = [lerp(g.fx, g.odx, 0.3), lerp(g.fy, g.ody, 0.3)];
  let site: [number, number] = [g.fx, g.fy];
  for (let tries = 0; tries < 30; tries++) {
    const [x, y] = [ax + spread * g.radius * rng.nextGaussian(), ay + spread * g.radius * rng.nextGaussian()];
    const inside = Math.hypot(x - g.cx, y - g.cy) < 0.9 * g.radius && Math.abs(y - g.cy) < g.crop - 3 * c.u;
    if (inside && Math.hypot(x - g.odx, y - g.ody) > 1.5 * g.odRadius) {
      site = [x, y];
      break;
    }
  }
  return site;
}

/** Tiny dark red dots. */
function microaneurysm(c: Canvas, rng: Rng): void {
  const [x, y] = lesionSite(c, rng, 0.4);
  const r = Math.max(0.7, rng.nextRange(1.0, 1.7) * c.u);
  drawBlob(c, [[x, y, r, r, 0]], { mode: 'multiply', color: [0.42, 0.2, 0.24], opacity: rng.nextRange(0.85, 1), soft: 0.9 });
}

/** Dot-blot (clustered discs) or flame-shaped (elongated along the nerve fibres, i.e. radially) haemorrhage. */
function haemorrhage(c: Canvas, rng: Rng): void {
  const { g, u } = c;
  const [x, y] = lesionSite(c, rng, 0.45);
  const paint: Paint = { mode: 'multiply', color: [0.4 + rng.nextRange(-0.06, 0.06), 0.17, 0.2], opacity: rng.nextRange(0.75, 0.95), soft: 1.2 * Math.max(1, u) };
  if (rng.nextFloat() < 0.35) {
    const along = Math.atan2(y - g.ody, x - g.odx);
    const len = rng.nextRange(4, 8) * u;
    drawBlob(c, [[x, y, len, len * rng.nextRange(0.3, 0.5), along + rng.nextRange(-0.2, 0.2)]], paint);
    return;
  }
  const r0 = rng.nextRange(2.5, 5.5) * u;
  const parts = Array.from({ length: 1 + rng.nextInt(4) }, (): [number, number, number, number, number] => {
    const r = r0 * rng.nextRange(0.5, 1);
    return [x + r0 * 0.6 * rng.nextGaussian(), y + r0 * 0.6 * rng.nextGaussian(), r, r * rng.nextRange(0.7, 1), rng.nextRange(0, Math.PI)];
  });
  drawBlob(c, parts, paint);
}

/** A cluster (often a partial ring) of small waxy yellow spots. */
function exudateCluster(c: Canvas, rng: Rng): void {
  const [x, y] = lesionSite(c, rng, 0.3);
  const spots = 2 + rng.nextInt(9);
  const spread = rng.nextRange(3, 9) * c.u;
  const color: Rgb = [rng.nextRange(235, 255), rng.nextRange(205, 235), rng.nextRange(90, 140)];
  for (let k = 0; k < spots; k++) {
    const [sx, sy] = [x + spread * rng.nextGaussian(), y + spread * rng.nextGaussian()];
    if (aperture(c.g, sx, sy, 1) < 1 || Math.hypot(sx - c.g.odx, sy - c.g.ody) < 1.3 * c.g.odRadius) continue;
    const r = Math.max(0.7, rng.nextRange(0.8, 2.2) * c.u);
    drawBlob(c, [[sx, sy, r, r * rng.nextRange(0.6, 1), rng.nextRange(0, Math.PI)]], { mode: 'blend', color, opacity: rng.nextRange(0.75, 0.95), soft: 0.9 });
  }
}

/** Pale, fluffy, soft-edged patch. */
function cottonWoolSpot(c: Canvas, rng: Rng): void {
  const [x, y] = lesionSite(c, rng, 0.4);
  const r = rng.nextRange(3, 6) * c.u;
  const color: Rgb = [rng.nextRange(235, 250), rng.nextRange(200, 225), rng.nextRange(170, 200)];
  drawBlob(c, [[x, y, r, r * rng.nextRange(0.6, 0.9), rng.nextRange(0, Math.PI)]], { mode: 'blend', color, opacity: rng.nextRange(0.45, 0.7), soft: r * 0.8 });
}

/** Neovascularisation: a small tangle of fine, tortuous new vessels, on or near the disc. */
function newVessels(c: Canvas, rng: Rng): void {
  const { g, u } = c;
  const onDisc = rng.nextFloat() < 0.6;
  const [hx, hy] = onDisc
    ? [g.odx + g.odRadius * rng.nextRange(-1.2, 1.2), g.ody + g.odRadius * rng.nextRange(-1.2, 1.2)]
    : lesionSite(c, rng, 0.35);
  const home = rng.nextRange(5, 9) * u;
  const paint: Paint = { mode: 'multiply', color: [0.62, 0.38, 0.44], opacity: rng.nextRange(0.75, 0.95), soft: 0.8 };
  const loops = 4 + rng.nextInt(5);
  const strokes: Stroke[] = [];
  for (let k = 0; k < loops; k++) {
    const step = Math.max(0.5, 0.7 * u);
    let [x, y, heading, curl] = [hx + home * 0.5 * rng.nextGaussian(), hy + home * 0.5 * rng.nextGaussian(), rng.nextRange(0, 2 * Math.PI), 0];
    const s: Stroke = { xs: [x], ys: [y], hw: [] };
    for (let i = 0; i < Math.round((rng.nextRange(12, 26) * u) / step); i++) {
      curl = 0.8 * curl + (0.12 / Math.max(u, 0.5)) * rng.nextGaussian();
      const away = Math.hypot(x - hx, y - hy) / home;
      heading += curl * step + (away > 1 ? 0.3 * angleDiff(Math.atan2(hy - y, hx - x), heading) : 0);
      x += Math.cos(heading) * step;
      y += Math.sin(heading) * step;
      s.xs.push(x);
      s.ys.push(y);
    }
    s.hw = s.xs.map(() => Math.max(0.4, rng.nextRange(0.35, 0.55) * u));
    strokes.push(s);
  }
  drawStrokes(c, strokes, paint);
}

function paintLesions(c: Canvas, rng: Rng, level: FundusLevel): void {
  const plan = PLANS[level];
  const repeat = (span: Span, draw: (c: Canvas, rng: Rng) => void): void => {
    for (let n = rangeInt(rng, span); n > 0; n--) draw(c, rng);
  };
  repeat(plan.cottonWool, cottonWoolSpot);
  repeat(plan.haemorrhages, haemorrhage);
  repeat(plan.exudateClusters, exudateCluster);
  repeat(plan.microaneurysms, microaneurysm);
  repeat(plan.newVessels, newVessels);
}

// ---- public API --------------------------------------------------------------------

function finish(c: Canvas, rng: Rng): Uint8Array {
  return withSensorNoise(c.rgb, rng.nextRange(1.5, 4.5), rng);
}

/** Interleaved RGB (size*size*3) DR-like fundus photo of severity `level`; deterministic in (level, size, seed). */
export function renderFundusImage(level: FundusLevel, size: number, seed: number): Uint8Array {
  if (!FUNDUS_LEVELS.includes(level)) throw new Error(`unknown fundus level '${String(level)}' (expected 0-4)`);
  const g = fundusGeometry(size, seed);
  const c: Canvas = { size, g, u: g.radius / 100, rgb: new Float32Array(size * size * 3), mask: newMask(size) };
  paintRetina(c, stream(seed, STREAM.retina));
  paintOpticDisc(c, stream(seed, STREAM.retina + 100));
  paintVessels(c, stream(seed, STREAM.vessels));
  paintLesions(c, stream(seed, STREAM.lesions), level);
  return finish(c, stream(seed, STREAM.noise));
}
