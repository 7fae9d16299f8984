import { describe, expect, it } from 'vitest';
import { type VesselKind, renderVesselImage, vesselSample } from '../../lib/synth/vessels.js';

function luminance(img: Uint8Array, size: number): Float32Array {
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * img[3 * i]! + 0.587 * img[3 * i + 1]! + 0.114 * img[3 * i + 2]!;
  return out;
}

/**
 * Global orientation coherence of strong gradients (structure tensor):
 * near 1 when edges share one direction (smooth parallel vessels), near 0
 * when they point every way (tortuous, looped vessels). Weak gradients
 * (background noise) are ignored.
 */
function orientationCoherence(img: Uint8Array, size: number): number {
  const l = luminance(img, size);
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const gx = l[y * size + x + 1]! - l[y * size + x - 1]!;
      const gy = l[(y + 1) * size + x]! - l[(y - 1) * size + x]!;
      if (gx * gx + gy * gy < 400) continue;
      xx += gx * gx;
      yy += gy * gy;
      xy += gx * gy;
    }
  }
  return Math.sqrt((xx - yy) ** 2 + 4 * xy * xy) / (xx + yy);
}

const meanStd = (xs: number[]): [number, number] => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))];
};

describe('renderVesselImage', () => {
  it('returns interleaved RGB of the right length, deterministically', () => {
    for (const size of [32, 64, 96]) {
      const a = renderVesselImage('malignant', size, 11);
      expect(a).toBeInstanceOf(Uint8Array);
      expect(a.length).toBe(size * size * 3);
      expect(renderVesselImage('malignant', size, 11)).toEqual(a);
    }
    expect(renderVesselImage('benign', 64, 1)).not.toEqual(renderVesselImage('benign', 64, 2));
    expect(renderVesselImage('benign', 64, 1)).not.toEqual(renderVesselImage('malignant', 64, 1));
  });

  it('looks like an image: varied, mid-tone, not saturated', () => {
    const img = renderVesselImage('benign', 96, 3);
    const l = luminance(img, 96);
    const [m, sd] = meanStd([...l]);
    expect(m).toBeGreaterThan(40);
    expect(m).toBeLessThan(200);
    expect(sd).toBeGreaterThan(3);
  });

  it('classes differ in vessel tortuosity (orientation coherence), 50 vs 50 images', () => {
    const stat = (kind: VesselKind): number[] =>
      Array.from({ length: 50 }, (_, i) => orientationCoherence(renderVesselImage(kind, 96, 5000 + i), 96));
    const [mb, sb] = meanStd(stat('benign'));
    const [mm, sm] = meanStd(stat('malignant'));
    // Smooth benign vessels are far more coherent than tangled malignant ones.
    expect(mb - mm).toBeGreaterThan(0.3);
    const welchT = (mb - mm) / Math.sqrt((sb * sb + sm * sm) / 50);
    expect(welchT).toBeGreaterThan(8);
  });

  it('is fast: 200 images of 96x96 well under the budget', () => {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) renderVesselImage(i % 2 ? 'malignant' : 'benign', 96, i);
    expect(performance.now() - t0).toBeLessThan(4000); // ~0.5 s locally; slack for slow CI
  });

  it('rejects bad arguments', () => {
    expect(() => renderVesselImage('benign', 4, 1)).toThrow(/size/);
    expect(() => renderVesselImage('benign', 64.5, 1)).toThrow(/size/);
    expect(() => renderVesselImage('other' as VesselKind, 64, 1)).toThrow(/kind/);
  });
});

describe('vesselSample', () => {
  it('is balanced, alternating and deterministic with distinct per-image seeds', () => {
    const samples = Array.from({ length: 100 }, (_, i) => vesselSample(i, 42));
    expect(samples.filter((s) => s.kind === 'benign')).toHaveLength(50);
    expect(samples[0]!.kind).toBe('benign');
    expect(samples[1]!.kind).toBe('malignant');
    expect(vesselSample(7, 42)).toEqual(samples[7]);
    expect(new Set(samples.map((s) => s.seed)).size).toBe(100);
    expect(vesselSample(7, 43).seed).not.toBe(samples[7]!.seed);
    expect(() => vesselSample(-1, 42)).toThrow(/index/);
  });
});
