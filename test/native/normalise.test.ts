// The two batch paths normalise alike: the host one (makeBatch's lookup table, used on the
// CPU) and the device one (uint8 shipped to the GPU, normalised there) give the same float
// bits, with the registry's mean/std of the model (ImageNet's or any other) and with the
// flips a training batch draws. Here the device path runs on the CPU; test/native/gpu.test.ts
// runs it on a GPU when one is visible.
import { describe, expect, it } from 'vitest';

import { testHooks } from '../helpers/hooks.js';

const hooks = testHooks();

function sameBits(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let differ = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++;
  return differ;
}

describe.skipIf(!hooks)('batch normalisation, host and device paths', () => {
  it('ImageNet mean/std with flips: equal bit for bit', () => {
    const r = hooks!._testNormalise({ count: 6, size: 9, seed: 4 });
    expect(r.host.length).toBe(6 * 3 * 9 * 9);
    expect(r.device.length).toBe(r.host.length);
    expect(r.flips.some((f) => f)).toBe(true);
    expect(r.flips.some((f) => !f)).toBe(true);
    expect(sameBits(r.host, r.device)).toBe(0);
  });

  it('another mean/std: the values follow it, and both paths still agree', () => {
    const mean: [number, number, number] = [0.5, 0.25, 0.125];
    const std: [number, number, number] = [0.5, 0.2, 0.3];
    const r = hooks!._testNormalise({ count: 3, size: 5, seed: 1, mean, std });
    const imagenet = hooks!._testNormalise({ count: 3, size: 5, seed: 1 });
    expect(sameBits(r.host, r.device)).toBe(0);
    expect(sameBits(r.host, imagenet.host)).toBeGreaterThan(0);
    // every value is (v / 255 - mean[c]) / std[c] for some byte v, rounded once
    const plane = 5 * 5;
    for (let i = 0; i < r.host.length; i++) {
      const c = Math.floor(i / plane) % 3;
      const v = (r.host[i]! * std[c]! + mean[c]!) * 255;
      expect(Math.abs(v - Math.round(v))).toBeLessThan(1e-3);
    }
  });

  it('without augmentation nothing is flipped', () => {
    const r = hooks!._testNormalise({ count: 4, size: 6, seed: 2, augment: false });
    expect(r.flips.every((f) => !f)).toBe(true);
    expect(sameBits(r.host, r.device)).toBe(0);
  });
});
