// Deterministic synthetic stand-ins for CE-NBI contact endoscopy images.
// Benign: a few smooth, gently curving, branching vessels sharing a dominant
// (longitudinal) direction. Malignant: tangled clusters of tortuous worms,
// coils and tight loops. Background, vessel colours, noise and faint deep
// vessels come from the same distributions in both classes, so only vessel
// *shape* separates them (what the real task asks the CNN to learn).
// Drawing is pure TS: polylines are rasterised by distance-to-segment
// coverage into a mask and composited, which gives anti-aliased strokes.
import { Rng, mixSeed } from '../util/rng.js';
import { lerp, smoothstep, withSensorNoise } from './raster.js';

export type VesselKind = 'benign' | 'malignant';
export const VESSEL_KINDS: readonly VesselKind[] = ['benign', 'malignant'];

export type Rgb = [number, number, number];

/** Polyline with a half-width per point, in pixel units. */
export interface Stroke {
  xs: number[];
  ys: number[];
  hw: number[];
}

export interface Paint {
  color: Rgb;
  opacity: number;
  /** Edge ramp width in px: 1 = crisp anti-aliasing, larger = blurred (deep) vessel. */
  softness: number;
}

export interface Canvas {
  size: number;
  /** px per unit of the 96-px reference design, so shapes scale with size. */
  scale: number;
  rgb: Float32Array;
  mask: Float32Array;
}

// ---- background ------------------------------------------------------------

const MUCOSA: readonly Rgb[] = [
  [78, 128, 118], // teal
  [112, 124, 88], // greenish brown
  [92, 132, 104], // olive teal
  [70, 112, 112], // dark cyan
];

/** Smooth value noise in [-1, 1]: random grid values, smoothstep-interpolated. */
function smoothField(size: number, cells: number, rng: Rng): Float32Array {
  const g = cells + 1;
  const grid = new Float32Array(g * g);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.nextRange(-1, 1);
  // Cell index and blend weight depend on one coordinate only: compute once.
  const cell = new Int32Array(size);
  const weight = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const f = ((i + 0.5) / size) * cells;
    cell[i] = Math.min(Math.floor(f), cells - 1);
    weight[i] = smoothstep(f - cell[i]!);
  }
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const row = cell[y]! * g;
    const ty = weight[y]!;
    for (let x = 0; x < size; x++) {
      const k = row + cell[x]!;
      const tx = weight[x]!;
      const top = grid[k]! + (grid[k + 1]! - grid[k]!) * tx;
      const bottom = grid[k + g]! + (grid[k + g + 1]! - grid[k + g]!) * tx;
      out[y * size + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.nextInt(xs.length)] as T;
}

export function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return [lerp(a[0], b[0], t), lerp(a[1], b[1], t), lerp(a[2], b[2], t)];
}

/** NBI-like mucosa (or another palette): tinted base, low-frequency shading and hue drift, vignette. */
export function paintBackground(c: Canvas, rng: Rng, palette: readonly Rgb[] = MUCOSA): void {
  const base = mixRgb(pick(rng, palette), pick(rng, palette), rng.nextFloat());
  const brightness = rng.nextRange(0.8, 1.15);
  const shade = smoothField(c.size, 3, rng);
  const hue = smoothField(c.size, 4, rng);
  const mottle = smoothField(c.size, 10, rng);
  const [vx, vy] = [rng.nextRange(0.4, 0.6) * c.size, rng.nextRange(0.4, 0.6) * c.size];
  const vignette = rng.nextRange(0.15, 0.45);
  const warm: Rgb = [30, -8, -22]; // push toward brown where `hue` > 0
  for (let y = 0; y < c.size; y++) {
    const dy = (y - vy) / c.size;
    for (let x = 0; x < c.size; x++) {
      const dx = (x - vx) / c.size;
      const i = y * c.size + x;
      const light = brightness * (1 + 0.16 * shade[i]! + 0.05 * mottle[i]!) * (1 - vignette * 2 * (dx * dx + dy * dy));
      const h = 0.6 * hue[i]!;
      for (let ch = 0; ch < 3; ch++) c.rgb[i * 3 + ch] = (base[ch]! + h * warm[ch]!) * light;
    }
  }
}

// ---- stroke rasterisation ---------------------------------------------------

/** Max-accumulate one segment's coverage into the mask (max: joints don't double up). */
function coverSegment(c: Canvas, x0: number, y0: number, x1: number, y1: number, w0: number, w1: number, soft: number): void {
  const reach = Math.max(w0, w1) + soft;
  const xa = Math.max(0, Math.floor(Math.min(x0, x1) - reach));
  const xb = Math.min(c.size - 1, Math.ceil(Math.max(x0, x1) + reach));
  const ya = Math.max(0, Math.floor(Math.min(y0, y1) - reach));
  const yb = Math.min(c.size - 1, Math.ceil(Math.max(y0, y1) + reach));
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy || 1e-12;
  for (let py = ya; py <= yb; py++) {
    for (let px = xa; px <= xb; px++) {
      const qx = px + 0.5 - x0;
      const qy = py + 0.5 - y0;
      const t = Math.min(1, Math.max(0, (qx * dx + qy * dy) / len2));
      const ex = qx - t * dx;
      const ey = qy - t * dy;
      const d = Math.sqrt(ex * ex + ey * ey);
      const cov = (w0 + (w1 - w0) * t - d) / soft + 0.5;
      if (cov <= 0) continue;
      const k = py * c.size + px;
      const v = cov >= 1 ? 1 : cov;
      if (v > c.mask[k]!) c.mask[k] = v;
    }
  }
}

/** Pixel rectangle [x0, x1] x [y0, y1] that a stroke can touch, clipped to the canvas. */
function strokeBounds(c: Canvas, s: Stroke, soft: number): [number, number, number, number] {
  const reach = Math.max(...s.hw) + soft + 1;
  const clip = (v: number): number => Math.min(c.size - 1, Math.max(0, v));
  return [
    clip(Math.floor(Math.min(...s.xs) - reach)), clip(Math.ceil(Math.max(...s.xs) + reach)),
    clip(Math.floor(Math.min(...s.ys) - reach)), clip(Math.ceil(Math.max(...s.ys) + reach)),
  ];
}

/** Rasterise a stroke and blend its colour over the image (only within its bounds: speed). */
export function drawStroke(c: Canvas, s: Stroke, paint: Paint): void {
  if (s.xs.length < 2) return;
  const [x0, x1, y0, y1] = strokeBounds(c, s, paint.softness);
  for (let y = y0; y <= y1; y++) c.mask.fill(0, y * c.size + x0, y * c.size + x1 + 1);
  for (let i = 1; i < s.xs.length; i++) {
    coverSegment(c, s.xs[i - 1]!, s.ys[i - 1]!, s.xs[i]!, s.ys[i]!, s.hw[i - 1]!, s.hw[i]!, paint.softness);
  }
  for (let y = y0; y <= y1; y++) {
    for (let k = y * c.size + x0; k <= y * c.size + x1; k++) {
      const a = c.mask[k]! * paint.opacity;
      if (a === 0) continue;
      for (let ch = 0; ch < 3; ch++) c.rgb[k * 3 + ch] = lerp(c.rgb[k * 3 + ch]!, paint.color[ch]!, a);
    }
  }
}

// Same colour distribution for both classes: brown superficial capillaries,
// occasionally cyan-tinted deeper ones.
function vesselPaint(rng: Rng): Paint {
  const brown: Rgb = [rng.nextRange(38, 62), rng.nextRange(34, 48), rng.nextRange(24, 36)];
  const cyan: Rgb = [rng.nextRange(28, 42), rng.nextRange(68, 88), rng.nextRange(78, 98)];
  const color = rng.nextFloat() < 0.75 ? brown : mixRgb(brown, cyan, rng.nextRange(0.3, 0.8));
  return { color, opacity: rng.nextRange(0.7, 0.95), softness: rng.nextRange(1, 1.6) };
}

// ---- path generators ---------------------------------------------------------

interface WalkOptions {
  x: number;
  y: number;
  heading: number;
  steps: number;
  stepLen: number;
  /** Random change of curvature per step (rad/px); large = tortuous. */
  curlSigma: number;
  curlDecay: number;
  maxCurl: number;
  /** Pull of the heading back toward `heading` (0 = free walk). */
  straighten: number;
  /** Optional attractor keeping tangles clustered. */
  home?: { x: number; y: number; radius: number };
  hw: number;
  taper: number;
}

/** Curvature-driven random walk: the shared engine of every vessel shape. */
export function walk(rng: Rng, o: WalkOptions): Stroke {
  const s: Stroke = { xs: [o.x], ys: [o.y], hw: [o.hw] };
  let [x, y, heading, curl, hw] = [o.x, o.y, o.heading, 0, o.hw];
  for (let i = 0; i < o.steps; i++) {
    curl = Math.max(-o.maxCurl, Math.min(o.maxCurl, o.curlDecay * curl + o.curlSigma * rng.nextGaussian()));
    heading += curl * o.stepLen + o.straighten * angleDiff(o.heading, heading);
    if (o.home) heading += homePull(o.home, x, y, heading);
    x += Math.cos(heading) * o.stepLen;
    y += Math.sin(heading) * o.stepLen;
    hw = Math.max(0.45, hw * (1 - o.taper) * (1 + 0.03 * rng.nextGaussian()));
    s.xs.push(x);
    s.ys.push(y);
    s.hw.push(hw);
  }
  return s;
}

function angleDiff(target: number, current: number): number {
  return Math.atan2(Math.sin(target - current), Math.cos(target - current));
}

/** Turn toward home, harder the further outside its radius we are. */
function homePull(home: { x: number; y: number; radius: number }, x: number, y: number, heading: number): number {
  const dist = Math.hypot(home.x - x, home.y - y);
  if (dist < home.radius) return 0;
  const toward = Math.atan2(home.y - y, home.x - x);
  return 0.25 * Math.min(1, dist / home.radius - 1 + 0.3) * angleDiff(toward, heading);
}

/** Coil ("earthworm"): circular motion whose centre drifts along a slowly turning axis. */
export function coil(rng: Rng, x: number, y: number, scale: number): Stroke {
  const radius = rng.nextRange(1.6, 4) * scale;
  const drift = rng.nextRange(0.25, 0.9) * scale; // axis advance per radian
  const turns = rng.nextRange(1.5, 4.5);
  const spin = rng.nextFloat() < 0.5 ? -1 : 1;
  let axis = rng.nextRange(0, 2 * Math.PI);
  const dt = (0.8 * scale) / (radius + drift);
  const hw0 = rng.nextRange(0.55, 1.1) * scale;
  const s: Stroke = { xs: [], ys: [], hw: [] };
  let [cx, cy, phase] = [x, y, rng.nextRange(0, 2 * Math.PI)];
  for (let t = 0; t < turns * 2 * Math.PI; t += dt) {
    axis += 0.08 * rng.nextGaussian() * dt * 4;
    cx += Math.cos(axis) * drift * dt;
    cy += Math.sin(axis) * drift * dt;
    const r = radius * (1 + 0.25 * Math.sin(t * 0.7 + phase));
    s.xs.push(cx + r * Math.cos(spin * t + phase));
    s.ys.push(cy + r * Math.sin(spin * t + phase));
    s.hw.push(hw0 * (1 + 0.15 * Math.sin(t * 1.3)));
  }
  return s;
}

// ---- class-specific vessel layouts ----------------------------------------------

/** Gentle longitudinal vessels with a few smooth branches. */
function benignVessels(c: Canvas, rng: Rng): void {
  const theta = rng.nextRange(0, Math.PI);
  const [dir, perp] = [[Math.cos(theta), Math.sin(theta)], [-Math.sin(theta), Math.cos(theta)]];
  const count = 2 + rng.nextInt(4);
  for (let v = 0; v < count; v++) {
    const heading = theta + 0.2 * rng.nextGaussian();
    const main = visibleMainVessel(c, rng, heading, dir, perp);
    const paint = vesselPaint(rng);
    drawStroke(c, main, paint);
    benignBranches(c, rng, main, heading, paint);
  }
}

// A vessel that barely grazes the frame would leave an image with no visible
// structure, so re-draw (a few tries) until most of it lies inside.
function visibleMainVessel(c: Canvas, rng: Rng, heading: number, dir: number[], perp: number[]): Stroke {
  let best: Stroke | null = null;
  for (let attempt = 0; attempt < 6; attempt++) {
    const off = rng.nextRange(-0.42, 0.42) * c.size;
    const stroke = walk(rng, {
      x: c.size / 2 + off * perp[0]! - 0.75 * c.size * dir[0]!,
      y: c.size / 2 + off * perp[1]! - 0.75 * c.size * dir[1]!,
      heading, steps: Math.round((1.6 * c.size) / (1.5 * c.scale)), stepLen: 1.5 * c.scale,
      curlSigma: 0.003 / c.scale, curlDecay: 0.97, maxCurl: 0.03 / c.scale, straighten: 0.01,
      hw: rng.nextRange(0.9, 2.1) * c.scale, taper: 0.002,
    });
    best = stroke;
    if (insideFraction(c.size, stroke) >= 0.35) break;
  }
  return best as Stroke;
}

function insideFraction(size: number, s: Stroke): number {
  let inside = 0;
  s.xs.forEach((x, i) => {
    const y = s.ys[i]!;
    if (x >= 0 && x < size && y >= 0 && y < size) inside++;
  });
  return inside / s.xs.length;
}

function benignBranches(c: Canvas, rng: Rng, parent: Stroke, heading: number, paint: Paint): void {
  const branches = rng.nextInt(4);
  for (let b = 0; b < branches; b++) {
    const at = rng.nextInt(parent.xs.length);
    const side = rng.nextFloat() < 0.5 ? -1 : 1;
    const length = rng.nextRange(0.25, 0.6) * c.size;
    const branch = walk(rng, {
      x: parent.xs[at]!, y: parent.ys[at]!,
      heading: heading + side * rng.nextRange(0.3, 0.75), steps: Math.round(length / (1.5 * c.scale)), stepLen: 1.5 * c.scale,
      curlSigma: 0.003 / c.scale, curlDecay: 0.95, maxCurl: 0.03 / c.scale, straighten: 0,
      hw: parent.hw[at]! * rng.nextRange(0.45, 0.75), taper: 0.01,
    });
    drawStroke(c, branch, { ...paint, opacity: paint.opacity * rng.nextRange(0.8, 1) });
  }
}

/** Dense tangles: tortuous worms, coils and small loops around 1-3 centres. */
function malignantVessels(c: Canvas, rng: Rng): void {
  const clusters = 1 + rng.nextInt(3);
  for (let k = 0; k < clusters; k++) {
    const home = {
      x: rng.nextRange(0.2, 0.8) * c.size,
      y: rng.nextRange(0.2, 0.8) * c.size,
      radius: rng.nextRange(0.14, 0.34) * c.size,
    };
    const items = 3 + rng.nextInt(5);
    for (let i = 0; i < items; i++) malignantItem(c, rng, home);
  }
}

function malignantItem(c: Canvas, rng: Rng, home: { x: number; y: number; radius: number }): void {
  const angle = rng.nextRange(0, 2 * Math.PI);
  const r = home.radius * Math.sqrt(rng.nextFloat());
  const x = home.x + r * Math.cos(angle);
  const y = home.y + r * Math.sin(angle);
  const paint = vesselPaint(rng);
  if (rng.nextFloat() < 0.4) {
    drawStroke(c, coil(rng, x, y, c.scale), paint);
    return;
  }
  const length = rng.nextRange(0.35, 1.0) * c.size;
  const stepLen = 0.8 * c.scale;
  const worm = walk(rng, {
    x, y, heading: rng.nextRange(0, 2 * Math.PI), steps: Math.round(length / stepLen), stepLen,
    curlSigma: rng.nextRange(0.06, 0.14) / c.scale, curlDecay: 0.85, maxCurl: 0.45 / c.scale, straighten: 0,
    home, hw: rng.nextRange(0.6, 1.5) * c.scale, taper: 0,
  });
  drawStroke(c, worm, paint);
}

/** Faint, blurred, cyan submucosal vessels; same distribution in both classes. */
export function deepVessels(c: Canvas, rng: Rng): void {
  const count = rng.nextInt(3);
  for (let v = 0; v < count; v++) {
    const stroke = walk(rng, {
      x: rng.nextRange(0, c.size), y: rng.nextRange(0, c.size), heading: rng.nextRange(0, 2 * Math.PI),
      steps: Math.round(c.size / (2 * c.scale)), stepLen: 2 * c.scale,
      curlSigma: 0.004 / c.scale, curlDecay: 0.95, maxCurl: 0.03 / c.scale, straighten: 0,
      hw: rng.nextRange(2, 4) * c.scale, taper: 0,
    });
    const color: Rgb = [rng.nextRange(40, 60), rng.nextRange(90, 110), rng.nextRange(110, 130)];
    drawStroke(c, stroke, { color, opacity: rng.nextRange(0.15, 0.35), softness: 3 * c.scale });
  }
}

// ---- public API -------------------------------------------------------------------

export function finish(c: Canvas, rng: Rng): Uint8Array {
  return withSensorNoise(c.rgb, rng.nextRange(2, 6), rng);
}

/** Interleaved RGB (size*size*3) synthetic CE-NBI-like image; deterministic in (kind, size, seed). */
export function renderVesselImage(kind: VesselKind, size: number, seed: number): Uint8Array {
  if (kind !== 'benign' && kind !== 'malignant') throw new Error(`unknown vessel kind '${String(kind)}'`);
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new Error(`image size must be an integer in [8, 4096], got ${size}`);
  const rng = new Rng(seed);
  const c: Canvas = {
    size, scale: size / 96, rgb: new Float32Array(size * size * 3), mask: new Float32Array(size * size),
  };
  paintBackground(c, rng);
  deepVessels(c, rng);
  if (kind === 'benign') benignVessels(c, rng);
  else malignantVessels(c, rng);
  return finish(c, rng);
}

/** Balanced dataset recipe: even indices benign, odd malignant, per-image seed mixed from (seed, index). */
export function vesselSample(index: number, seed: number): { kind: VesselKind; seed: number } {
  if (!Number.isInteger(index) || index < 0) throw new Error(`sample index must be a non-negative integer, got ${index}`);
  return { kind: index % 2 === 0 ? 'benign' : 'malignant', seed: mixSeed(seed, index) };
}
