// The "bridge" family of synthetic intermediate domains, for validating `probe`:
// fundus-coloured images whose vessel geometry is a parameter, `twist` in [0, 1].
// - twist 0: straight vessels running outward from a disc near the image centre
//   (radial, as in a fundus photo);
// - twist 1: tortuous worms and coils anywhere in the frame (as in the synthetic
//   target's malignant class);
// - in between: the start point, heading, curvature noise and share of coils are
//   interpolated.
// Two classes, `few` (2-3 vessels) and `many` (6-9 vessels), so a model trained on a
// bridge must learn to find vessels of that geometry. Background and vessel colours come
// from the same distributions at every twist: only the geometry moves.
import { Rng } from '../util/rng.js';
import { lerp } from './raster.js';
import { coil, drawStroke, finish, mixRgb, paintBackground, walk, type Canvas, type Paint, type Rgb } from './vessels.js';

export type BridgeClass = 'few' | 'many';
export const BRIDGE_CLASSES: readonly BridgeClass[] = ['few', 'many'];

const RETINA: readonly Rgb[] = [
  [214, 112, 56],
  [196, 92, 46],
  [178, 74, 40],
  [226, 132, 72],
];

function bridgePaint(rng: Rng): Paint {
  const dark: Rgb = [rng.nextRange(96, 130), rng.nextRange(26, 44), rng.nextRange(20, 36)];
  const light: Rgb = [rng.nextRange(140, 165), rng.nextRange(48, 64), rng.nextRange(36, 50)];
  return { color: mixRgb(dark, light, rng.nextFloat()), opacity: rng.nextRange(0.7, 0.95), softness: rng.nextRange(1, 1.6) };
}

export function checkTwist(twist: number): void {
  if (!Number.isFinite(twist) || twist < 0 || twist > 1) throw new Error(`twist must be a number in [0, 1] (0 radial, 1 twisted), got ${twist}`);
}

/** One vessel: radial from the disc at twist 0, a free tortuous worm at twist 1. */
function bridgeVessel(c: Canvas, rng: Rng, twist: number, disc: { x: number; y: number }): void {
  const paint = bridgePaint(rng);
  if (rng.nextFloat() < 0.4 * twist) {
    drawStroke(c, coil(rng, rng.nextRange(0.15, 0.85) * c.size, rng.nextRange(0.15, 0.85) * c.size, c.scale), paint);
    return;
  }
  const angle = rng.nextRange(0, 2 * Math.PI);
  const r0 = rng.nextRange(0.04, 0.12) * c.size;
  const radial = { x: disc.x + r0 * Math.cos(angle), y: disc.y + r0 * Math.sin(angle) };
  const free = { x: rng.nextRange(0.15, 0.85) * c.size, y: rng.nextRange(0.15, 0.85) * c.size };
  const heading = angle + twist * rng.nextRange(-Math.PI, Math.PI);
  const stepLen = lerp(1.5, 0.8, twist) * c.scale;
  const length = rng.nextRange(0.45, 0.8) * c.size;
  const stroke = walk(rng, {
    x: lerp(radial.x, free.x, twist),
    y: lerp(radial.y, free.y, twist),
    heading,
    steps: Math.round(length / stepLen),
    stepLen,
    curlSigma: lerp(0.003, 0.11, twist) / c.scale,
    curlDecay: lerp(0.97, 0.85, twist),
    maxCurl: lerp(0.03, 0.45, twist) / c.scale,
    straighten: 0.02 * (1 - twist),
    hw: rng.nextRange(0.7, 1.6) * c.scale,
    taper: lerp(0.006, 0, twist),
  });
  drawStroke(c, stroke, paint);
}

/** Interleaved RGB (size*size*3) bridge image; deterministic in (class, twist, size, seed). */
export function renderBridgeImage(cls: BridgeClass, twist: number, size: number, seed: number): Uint8Array {
  if (cls !== 'few' && cls !== 'many') throw new Error(`unknown bridge class '${String(cls)}' (expected few or many)`);
  checkTwist(twist);
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new Error(`image size must be an integer in [16, 4096], got ${size}`);
  const rng = new Rng(seed);
  const c: Canvas = { size, scale: size / 96, rgb: new Float32Array(size * size * 3), mask: new Float32Array(size * size) };
  paintBackground(c, rng, RETINA);
  const disc = { x: rng.nextRange(0.4, 0.6) * size, y: rng.nextRange(0.4, 0.6) * size };
  const count = cls === 'few' ? 2 + rng.nextInt(2) : 6 + rng.nextInt(4);
  for (let v = 0; v < count; v++) bridgeVessel(c, rng, twist, disc);
  return finish(c, rng);
}
