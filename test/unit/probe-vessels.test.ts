// Vessel morphology (lib/probe/vessels.ts) against a reference written independently
// with numpy and scipy (test/fixtures/vessel_reference.py: scipy.ndimage's Gaussian
// derivatives, numpy's eigh), on drawn and synthetic images; and what each figure must
// say about shapes whose answer is known (radial spokes, circles, parallel lines).
// The reference part skips visibly without python3, numpy and scipy.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { classProfiles, frangi, gaussianKernel, vesselDistance, vesselMorphology, type VesselMorphology } from '../../lib/probe/vessels.js';
import { renderBridgeImage } from '../../lib/synth/bridge.js';
import { renderVesselImage } from '../../lib/synth/vessels.js';
import { Rng } from '../../lib/util/rng.js';
import { runChecked } from '../helpers/process.js';
import { PYTHON, ROOT, oracleSkip, pythonOracleMissing } from '../helpers/python.js';

const skip = oracleSkip('vessel morphology reference', pythonOracleMissing(['numpy', 'scipy']));

const green = (rgb: Uint8Array, size: number): Float64Array => Float64Array.from({ length: size * size }, (_, i) => rgb[i * 3 + 1]! / 255);

/** A light image with dark lines of half-width 1 where `onLine(x, y)` gives the distance to the nearest line. */
function drawn(size: number, distance: (x: number, y: number) => number): Float64Array {
  return Float64Array.from({ length: size * size }, (_, i) => {
    const d = distance((i % size) + 0.5, Math.floor(i / size) + 0.5);
    return 0.8 - 0.5 * Math.max(0, Math.min(1, 1.5 - d));
  });
}

const spokes = (size: number) =>
  drawn(size, (x, y) => {
    const [dx, dy] = [x - size / 2, y - size / 2];
    const r = Math.hypot(dx, dy);
    if (r < 4) return 99;
    const angle = Math.atan2(dy, dx);
    const nearest = Math.round(angle / (Math.PI / 6)) * (Math.PI / 6);
    return r * Math.abs(Math.sin(angle - nearest));
  });
const rings = (size: number) => drawn(size, (x, y) => Math.abs(((Math.hypot(x - size / 2, y - size / 2) + 3) % 8) - 3));
const parallel = (size: number) => drawn(size, (x) => Math.abs(((x + 4) % 10) - 4));

describe.skipIf(skip)('vessel morphology against the Python reference', () => {
  it('Frangi vesselness and the four figures equal scipy/numpy on synthetic and drawn images', async () => {
    const S = 40;
    const rng = new Rng(9);
    const images = [
      green(renderBridgeImage('many', 0, S, 11), S),
      green(renderBridgeImage('many', 1, S, 12), S),
      green(renderVesselImage('benign', S, 13), S),
      green(renderVesselImage('malignant', S, 14), S),
      spokes(S),
      Float64Array.from({ length: S * S }, () => rng.nextFloat()),
      new Float64Array(S * S).fill(0.5),
    ];
    const ref = JSON.parse(
      await runChecked(PYTHON, [join(ROOT, 'test', 'fixtures', 'vessel_reference.py')], { input: JSON.stringify({ size: S, images: images.map((g) => [...g]) }) }),
    ) as (VesselMorphology & { vmax?: number; vsum?: number })[];
    const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-12);
    images.forEach((g, k) => {
      const ts = vesselMorphology(g, S);
      for (const key of ['density', 'coherence', 'radial', 'tortuosity'] as const) expect(rel(ts[key], ref[k]![key]), `image ${k} ${key}`).toBeLessThan(1e-9);
      if (ref[k]!.vsum !== undefined) {
        const { v } = frangi(g, S);
        expect(rel(v.reduce((a, b) => a + b, 0), ref[k]!.vsum!)).toBeLessThan(1e-9);
        expect(rel(Math.max(...v), ref[k]!.vmax!)).toBeLessThan(1e-9);
      }
    });
  }, 60_000);
});

describe('vessel morphology, without the reference', () => {
  it("gaussian kernels: scipy's radius, unit sum, derivative moments", () => {
    for (const s of [1, 1.5, 3]) {
      const [k0, k1, k2] = [gaussianKernel(s, 0), gaussianKernel(s, 1), gaussianKernel(s, 2)];
      expect(k0.radius).toBe(Math.floor(4 * s + 0.5));
      expect(k0.k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      // convolving x gives 1 for the first derivative; x^2 / 2 gives 1 for the second
      const xs = Array.from(k1.k, (_, i) => i - k1.radius);
      expect(xs.reduce((a, x, i) => a - x * k1.k[i]!, 0)).toBeCloseTo(1, 2);
      expect(xs.reduce((a, x, i) => a + ((x * x) / 2) * k2.k[i]!, 0)).toBeCloseTo(1, 1);
    }
  });

  it('spokes are radial, rings circular, parallel lines coherent; a flat image has no vessels', () => {
    const S = 64;
    const sp = vesselMorphology(spokes(S), S);
    const ri = vesselMorphology(rings(S), S);
    const pa = vesselMorphology(parallel(S), S);
    expect(sp.radial).toBeGreaterThan(0.85);
    expect(ri.radial).toBeLessThan(0.15);
    expect(pa.coherence).toBeGreaterThan(0.9);
    expect(pa.tortuosity).toBeLessThan(ri.tortuosity);
    expect(vesselMorphology(new Float64Array(S * S).fill(0.4), S)).toEqual({ density: 0, coherence: 0, radial: 0.5, tortuosity: 0 });
  });

  it('follows the bridge family: radial alignment falls and tortuosity rises with twist', () => {
    const S = 64;
    const at = (twist: number) => {
      const m = Array.from({ length: 12 }, (_, i) => vesselMorphology(green(renderBridgeImage(i % 2 ? 'many' : 'few', twist, S, 100 + i), S), S));
      return { radial: m.reduce((a, x) => a + x.radial, 0) / m.length, tortuosity: m.reduce((a, x) => a + x.tortuosity, 0) / m.length, coherence: m.reduce((a, x) => a + x.coherence, 0) / m.length };
    };
    const [r0, r5, r1] = [at(0), at(0.5), at(1)];
    expect(r0.radial).toBeGreaterThan(r5.radial);
    expect(r5.radial).toBeGreaterThan(r1.radial - 0.02);
    expect(r0.radial).toBeGreaterThan(0.6);
    expect(r1.tortuosity).toBeGreaterThan(r0.tortuosity);
    expect(r0.coherence).toBeGreaterThan(r1.coherence);
  });

  it('per-class profiles, and the vessel distance: 0 to itself, larger for a twisted-only candidate than for the target', () => {
    const S = 48;
    const target = Array.from({ length: 16 }, (_, i) => ({ m: vesselMorphology(green(renderVesselImage(i % 2 ? 'malignant' : 'benign', S, 200 + i), S), S), label: i % 2 }));
    const profiles = classProfiles(target.map((t) => t.m), target.map((t) => t.label), ['benign', 'malignant']);
    expect(profiles.map((p) => [p.name, p.images])).toEqual([['benign', 8], ['malignant', 8]]);
    expect(vesselDistance(profiles, target.map((t) => t.m), profiles)).toBe(0);
    const malignantOnly = profiles.filter((p) => p.name === 'malignant');
    expect(vesselDistance(profiles, target.map((t) => t.m), malignantOnly)).toBeGreaterThan(0);
    expect(classProfiles([target[0]!.m], [0], ['a', 'b']).map((p) => p.name)).toEqual(['a']);
  });
});
