// The intermediate-like (fundus) and source-like (textures) synthetic domains:
// deterministic, the right shape, and carrying the structure they are meant to
// (lesions that grow with the DR level, radial vessels, distinct texture families).
import { describe, expect, it } from 'vitest';

import { FUNDUS_LEVELS, type FundusGeometry, type FundusLevel, fundusGeometry, renderFundusImage } from '../../lib/synth/fundus.js';
import { SOURCE_CLASSES, renderSourceImage } from '../../lib/synth/textures.js';
import { renderVesselImage } from '../../lib/synth/vessels.js';
import { BRIDGE_CLASSES, renderBridgeImage } from '../../lib/synth/bridge.js';
import { balancedCounts, synthClasses, synthImageSeed, writeSynthDataset } from '../../lib/synth/write.js';
import { tempDir } from '../helpers/images.js';

function luminance(img: Uint8Array, size: number): Float32Array {
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * img[3 * i]! + 0.587 * img[3 * i + 1]! + 0.114 * img[3 * i + 2]!;
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * Mean |cos| between the luminance gradient and the direction from (ox, oy),
 * weighted by gradient energy over strong edges in `keep`. A vessel running
 * radially has its edge gradient across it, perpendicular to the radius: near 0.
 * Edges in every direction (tangles) give about 2/pi = 0.64.
 */
function radialAlignment(img: Uint8Array, size: number, ox: number, oy: number, keep: (x: number, y: number) => boolean): number {
  const l = luminance(img, size);
  let num = 0;
  let den = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const [px, py] = [x + 0.5, y + 0.5];
      if (!keep(px, py)) continue;
      const gx = l[y * size + x + 1]! - l[y * size + x - 1]!;
      const gy = l[(y + 1) * size + x]! - l[(y - 1) * size + x]!;
      const g2 = gx * gx + gy * gy;
      if (g2 < 400) continue; // sensor noise and smooth shading
      const [rx, ry] = [px - ox, py - oy];
      num += (g2 * Math.abs(gx * rx + gy * ry)) / Math.sqrt(g2 * (rx * rx + ry * ry));
      den += g2;
    }
  }
  return num / den;
}

/** Inside the retina, away from its rim, the crop lines and the optic disc's own edge. */
function awayFromEdges(g: FundusGeometry): (x: number, y: number) => boolean {
  return (x, y) =>
    Math.hypot(x - g.cx, y - g.cy) < 0.85 * g.radius && Math.abs(y - g.cy) < g.crop - 4 && Math.hypot(x - g.odx, y - g.ody) > 1.6 * g.odRadius;
}

/** Pixels where a level-L image differs from the lesion-free image of the same eye (same seed). */
function lesionArea(level: FundusLevel, size: number, seed: number, near?: (x: number, y: number) => boolean): number {
  const base = renderFundusImage(0, size, seed);
  const img = renderFundusImage(level, size, seed);
  let n = 0;
  for (let i = 0; i < size * size; i++) {
    if (near && !near((i % size) + 0.5, Math.floor(i / size) + 0.5)) continue;
    const d = Math.abs(img[3 * i]! - base[3 * i]!) + Math.abs(img[3 * i + 1]! - base[3 * i + 1]!) + Math.abs(img[3 * i + 2]! - base[3 * i + 2]!);
    if (d > 30) n++;
  }
  return n;
}

/** Exudate-coloured (waxy yellow) pixels outside the optic disc, which is yellowish too. */
function yellowPixels(img: Uint8Array, size: number, g: FundusGeometry): number {
  let n = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (Math.hypot(x + 0.5 - g.odx, y + 0.5 - g.ody) < 1.5 * g.odRadius) continue;
      const i = (y * size + x) * 3;
      const [r, gr, b] = [img[i]!, img[i + 1]!, img[i + 2]!];
      if (r > 150 && gr > 0.78 * r && b < 0.75 * gr) n++;
    }
  }
  return n;
}

describe('renderFundusImage', () => {
  it('returns interleaved RGB of the right length, deterministically', () => {
    for (const size of [32, 64, 96]) {
      const a = renderFundusImage(3, size, 11);
      expect(a).toBeInstanceOf(Uint8Array);
      expect(a.length).toBe(size * size * 3);
      expect(renderFundusImage(3, size, 11)).toEqual(a);
    }
    expect(renderFundusImage(0, 64, 1)).not.toEqual(renderFundusImage(0, 64, 2));
    expect(renderFundusImage(0, 64, 1)).not.toEqual(renderFundusImage(2, 64, 1));
  });

  it('looks like a fundus photo: dark corners, orange-red retina, bright optic disc', () => {
    const size = 96;
    for (const seed of [1, 2, 3]) {
      const img = renderFundusImage(0, size, seed);
      const g = fundusGeometry(size, seed);
      const at = (x: number, y: number): number[] => [...img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3)];
      expect(Math.max(...at(0, 0))).toBeLessThan(30);
      const [r, gr, b] = at(Math.round(g.cx + 0.3 * g.side * g.radius), Math.round(g.cy - 0.4 * g.radius));
      expect(r).toBeGreaterThan(gr! + 20);
      expect(gr).toBeGreaterThan(b!);
      const l = luminance(img, size);
      const disc = l[Math.floor(g.ody) * size + Math.floor(g.odx)]!;
      const retina = mean(range(size * size).filter((i) => Math.hypot((i % size) - g.cx, Math.floor(i / size) - g.cy) < 0.8 * g.radius).map((i) => l[i]!));
      expect(disc).toBeGreaterThan(retina + 40);
    }
  });

  it('varies the eye: both sides, several disc positions and sizes', () => {
    const geos = range(40).map((s) => fundusGeometry(128, s));
    expect(new Set(geos.map((g) => g.side)).size).toBe(2);
    expect(new Set(geos.map((g) => Math.round(g.odx / 4))).size).toBeGreaterThan(5);
    expect(geos.some((g) => g.crop < g.radius)).toBe(true);
    for (const g of geos) expect(Math.sign(g.odx - g.fx)).toBe(g.side); // fovea temporal to the disc
  });

  it('lesions grow with the level (same eye, 24 seeds)', () => {
    const area = FUNDUS_LEVELS.map((level) => mean(range(24).map((s) => lesionArea(level, 96, 700 + s))));
    expect(area[0]).toBe(0);
    expect(area[1]).toBeGreaterThan(0);
    expect(area[2]).toBeGreaterThan(3 * area[1]!);
    expect(area[3]).toBeGreaterThan(2 * area[2]!);
    expect(area[4]).toBeGreaterThan(area[2]!);
    // Every level-1+ image shows something.
    for (const s of range(12)) expect(lesionArea(1, 96, 900 + s)).toBeGreaterThan(0);
  });

  it('only level 4 has new vessels on the optic disc', () => {
    // Other lesions keep off the disc; most level-4 tangles (new vessels at the disc) sit on or by it.
    const g = (s: number): FundusGeometry => fundusGeometry(96, 800 + s);
    const onDisc = (s: number) => (x: number, y: number): boolean => Math.hypot(x - g(s).odx, y - g(s).ody) < 1.4 * g(s).odRadius;
    const at = (level: FundusLevel): number => mean(range(24).map((s) => lesionArea(level, 96, 800 + s, onDisc(s))));
    expect(at(4)).toBeGreaterThan(5 * at(3) + 10);
  });

  it('exudate-yellow appears from level 2 on (independent eyes)', () => {
    const yellow = FUNDUS_LEVELS.map((level) =>
      mean(range(20).map((s) => yellowPixels(renderFundusImage(level, 96, 5000 + 10 * s + level), 96, fundusGeometry(96, 5000 + 10 * s + level)))),
    );
    expect(yellow[0]).toBeLessThan(1);
    expect(yellow[1]).toBeLessThan(1);
    for (const level of [2, 3, 4]) expect(yellow[level]).toBeGreaterThan(3);
  });

  it('vessels run radially from the optic disc, unlike malignant tangles', () => {
    const size = 128;
    const fundus = range(16).map((s) => {
      const g = fundusGeometry(size, 300 + s);
      return radialAlignment(renderFundusImage(0, size, 300 + s), size, g.odx, g.ody, awayFromEdges(g));
    });
    const malignant = range(16).map((s) =>
      radialAlignment(renderVesselImage('malignant', size, 300 + s), size, size / 2, size / 2, (x, y) => Math.hypot(x - size / 2, y - size / 2) > 8),
    );
    expect(mean(fundus)).toBeLessThan(0.32);
    expect(mean(malignant)).toBeGreaterThan(0.5);
    expect(Math.max(...fundus)).toBeLessThan(Math.min(...malignant));
  });

  it('rejects bad arguments', () => {
    expect(() => renderFundusImage(5 as FundusLevel, 64, 1)).toThrow(/level/);
    expect(() => renderFundusImage(0, 8, 1)).toThrow(/size/);
    expect(() => renderFundusImage(0, 64.5, 1)).toThrow(/size/);
  });
});

/** Rotation-invariant edge statistics, normalised by the image's contrast (colours are random). */
function textureFeatures(img: Uint8Array, size: number): number[] {
  const l = luminance(img, size);
  const lo = Math.min(...l);
  const span = Math.max(1, Math.max(...l) - lo);
  const h = [0, 0, 0, 0, 0, 0]; // cos/sin of 2, 4, 6 times the gradient angle
  let [energy, strong, flat, total] = [0, 0, 0, 0];
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const gx = (l[y * size + x + 1]! - l[y * size + x - 1]!) / span;
      const gy = (l[(y + 1) * size + x]! - l[(y - 1) * size + x]!) / span;
      const g = Math.hypot(gx, gy);
      total += g;
      if (g < 0.05) {
        flat++;
        continue;
      }
      if (g > 0.25) strong++;
      const t = Math.atan2(gy, gx);
      energy += g * g;
      [2, 4, 6].forEach((m, j) => {
        h[2 * j] += g * g * Math.cos(m * t);
        h[2 * j + 1] += g * g * Math.sin(m * t);
      });
    }
  }
  const n = (size - 2) ** 2;
  const e = energy || 1;
  return [Math.hypot(h[0]!, h[1]!) / e, Math.hypot(h[2]!, h[3]!) / e, Math.hypot(h[4]!, h[5]!) / e, strong / n, flat / n, total / n];
}

describe('renderSourceImage', () => {
  it('has at least 10 distinctly named classes', () => {
    expect(SOURCE_CLASSES.length).toBeGreaterThanOrEqual(10);
    expect(new Set(SOURCE_CLASSES).size).toBe(SOURCE_CLASSES.length);
    for (const name of SOURCE_CLASSES) expect(name).toMatch(/^[a-z]+$/);
  });

  it('returns interleaved RGB of the right length, deterministically', () => {
    SOURCE_CLASSES.forEach((_, k) => {
      const a = renderSourceImage(k, 48, 7);
      expect(a.length).toBe(48 * 48 * 3);
      expect(renderSourceImage(k, 48, 7)).toEqual(a);
      expect(renderSourceImage(k, 48, 8)).not.toEqual(a);
      expect(Math.max(...luminance(a, 48)) - Math.min(...luminance(a, 48))).toBeGreaterThan(20); // something to see
    });
  });

  it('classes are separable by simple edge statistics (nearest centroid, held-out images)', () => {
    const size = 64;
    const feats = SOURCE_CLASSES.map((_, k) => range(24).map((i) => textureFeatures(renderSourceImage(k, size, 100 * k + i), size)));
    const train = feats.flatMap((fs) => fs.slice(0, 16));
    const dims = train[0]!.length;
    const mu = range(dims).map((d) => mean(train.map((f) => f[d]!)));
    const sd = range(dims).map((d) => Math.sqrt(mean(train.map((f) => (f[d]! - mu[d]!) ** 2))) || 1);
    const z = (f: number[]): number[] => f.map((v, d) => (v - mu[d]!) / sd[d]!);
    const centroids = feats.map((fs) => range(dims).map((d) => mean(fs.slice(0, 16).map((f) => z(f)[d]!))));
    const nearest = (f: number[]): number => {
      const zf = z(f);
      const dist = centroids.map((c) => c.reduce((a, v, d) => a + (v - zf[d]!) ** 2, 0));
      return dist.indexOf(Math.min(...dist));
    };
    const held = feats.flatMap((fs, k) => fs.slice(16).map((f) => nearest(f) === k));
    // Chance is 1/12; six crude features already get well above it (a CNN does far better).
    expect(held.filter(Boolean).length / held.length).toBeGreaterThan(0.4);
  });

  it('rejects bad arguments', () => {
    expect(() => renderSourceImage(SOURCE_CLASSES.length, 32, 1)).toThrow(/class/);
    expect(() => renderSourceImage(-1, 32, 1)).toThrow(/class/);
    expect(() => renderSourceImage(0.5, 32, 1)).toThrow(/class/);
    expect(() => renderSourceImage(0, 4, 1)).toThrow(/size/);
  });
});

describe('synthetic dataset recipe', () => {
  it('names the classes of each domain', () => {
    expect(synthClasses('target')).toEqual(['benign', 'malignant']);
    expect(synthClasses('intermediate')).toEqual(['0', '1', '2', '3', '4']);
    expect(synthClasses('source')).toEqual([...SOURCE_CLASSES]);
    expect(synthClasses('bridge')).toEqual([...BRIDGE_CLASSES]);
    expect(() => synthClasses('other' as 'target')).toThrow(/domain/);
  });

  it('balances n over the classes', () => {
    expect(balancedCounts(10, 5)).toEqual([2, 2, 2, 2, 2]);
    expect(balancedCounts(12, 5)).toEqual([3, 3, 2, 2, 2]);
    expect(balancedCounts(7, 2).reduce((a, b) => a + b)).toBe(7);
  });

  it('gives each image its own fixed seed', () => {
    const seeds = range(5).flatMap((k) => range(50).map((i) => synthImageSeed(42, k, i)));
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(synthImageSeed(42, 1, 3)).toBe(synthImageSeed(42, 1, 3));
    expect(synthImageSeed(43, 1, 3)).not.toBe(synthImageSeed(42, 1, 3));
  });
});

describe('renderBridgeImage (the bridge family: vessel geometry from radial to twisted)', () => {
  it('is deterministic in (class, twist, size, seed), and the twist changes the image', () => {
    const a = renderBridgeImage('few', 0.25, 48, 7);
    expect(a.length).toBe(48 * 48 * 3);
    expect(renderBridgeImage('few', 0.25, 48, 7)).toEqual(a);
    expect(renderBridgeImage('few', 0.75, 48, 7)).not.toEqual(a);
    expect(renderBridgeImage('many', 0.25, 48, 7)).not.toEqual(a);
  });

  it('draws more vessel ink for many than for few (dark pixels of the green channel, 16 seeds)', () => {
    const dark = (img: Uint8Array) => {
      const l = luminance(img, 64);
      const m = mean([...l]);
      return [...l].filter((v) => v < 0.75 * m).length;
    };
    for (const twist of [0, 1]) {
      const few = mean(range(16).map((i) => dark(renderBridgeImage('few', twist, 64, i))));
      const many = mean(range(16).map((i) => dark(renderBridgeImage('many', twist, 64, i))));
      expect(many).toBeGreaterThan(1.25 * few);
    }
  });

  it('twist 0 runs radially from the disc, twist 1 does not', () => {
    const at = (twist: number) => mean(range(16).map((i) => radialAlignment(renderBridgeImage('many', twist, 96, 50 + i), 96, 48, 48, (x, y) => Math.hypot(x - 48, y - 48) > 14)));
    expect(at(0)).toBeLessThan(at(1) - 0.1);
  });

  it('rejects bad arguments, and twist on other domains', () => {
    expect(() => renderBridgeImage('few', 1.5, 48, 1)).toThrow(/twist must be a number in \[0, 1\]/);
    expect(() => renderBridgeImage('few', Number.NaN, 48, 1)).toThrow(/twist/);
    expect(() => renderBridgeImage('some' as 'few', 0, 48, 1)).toThrow(/unknown bridge class 'some'/);
    expect(() => renderBridgeImage('few', 0, 8, 1)).toThrow(/size/);
    const out = tempDir('bridge-bad');
    expect(() => writeSynthDataset({ domain: 'target', n: 2, size: 32, seed: 1, out, twist: 0.5 })).toThrow(/twist applies to the bridge domain only, not 'target'/);
    expect(() => writeSynthDataset({ domain: 'bridge', n: 2, size: 32, seed: 1, out, twist: -1 })).toThrow(/twist must be/);
  });
});
