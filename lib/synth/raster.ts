// Small raster helpers shared by the synthetic-domain renderers.
import type { Rng } from '../util/rng.js';

export const smoothstep = (t: number): number => t * t * (3 - 2 * t);
export const lerp = (a: number, b: number, t: number): number => a + (b - a) * t;

/** Smooth value noise in [-1, 1] over a size x size image: random lattice, smoothstep-interpolated. */
export function valueNoise(size: number, cells: number, rng: Rng): Float32Array {
  const n = cells + 1;
  const lattice = Float32Array.from({ length: n * n }, () => rng.nextRange(-1, 1));
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const fy = ((y + 0.5) / size) * cells;
    const iy = Math.min(cells - 1, Math.floor(fy));
    const ty = smoothstep(fy - iy);
    for (let x = 0; x < size; x++) {
      const fx = ((x + 0.5) / size) * cells;
      const ix = Math.min(cells - 1, Math.floor(fx));
      const tx = smoothstep(fx - ix);
      const k = iy * n + ix;
      out[y * size + x] = lerp(lerp(lattice[k]!, lattice[k + 1]!, tx), lerp(lattice[k + n]!, lattice[k + n + 1]!, tx), ty);
    }
  }
  return out;
}

// Sensor noise shared by the channels (luminance noise): one 32-bit draw gives two
// 16-bit uniforms whose sum is a triangular variate (unit variance after this scale),
// Gaussian-looking and far cheaper than Box-Muller.
const TRIANGULAR = Math.sqrt(6) / 65536;

/** One noise sample of standard deviation `sigma` grey levels. */
export function sensorNoise(sigma: number, rng: Rng): number {
  const r = rng.nextUint32();
  return sigma * TRIANGULAR * ((r >>> 16) + (r & 0xffff) - 65535);
}

/** Adds luminance noise of `sigma` grey levels and clamps to bytes (round half to even). */
export function withSensorNoise(rgb: Float32Array, sigma: number, rng: Rng): Uint8Array {
  const out = new Uint8ClampedArray(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const noise = sensorNoise(sigma, rng);
    out[i] = rgb[i]! + noise;
    out[i + 1] = rgb[i + 1]! + noise;
    out[i + 2] = rgb[i + 2]! + noise;
  }
  return new Uint8Array(out.buffer);
}
