// Session.features: the pooled output of a group, taken during an eval forward pass. For
// resnet18 the default (layer4, averaged) is exactly the input of the fc head, so fc applied
// to the features gives the probabilities evaluate() returns.
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

let images: ImageSet;
let labels: Int32Array;

beforeAll(async () => {
  native().setThreads(2);
  const ds = readImageFolder(vesselFolder(4, 40));
  images = await native().ImageSet.build(ds.items.map((i) => i.file), 64);
  labels = Int32Array.from(ds.items.map((i) => i.label));
});

describe('Session.features', () => {
  it('resnet18: layer4 averaged, 512 per image; the fc head on them gives the probabilities of evaluate()', async () => {
    const s = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu', seed: 3 });
    const f = await s.features(images, { batchSize: 3 });
    expect([f.n, f.dim, f.layer]).toEqual([8, 512, 'layer4']);
    expect(Array.from(f.indices)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const weights = join(tempDir('features'), 'w.safetensors');
    await s.saveWeights(weights);
    const w = await native().readWeights(weights);
    const fcW = w.find((e) => e.name === 'fc.weight')!.data;
    const fcB = w.find((e) => e.name === 'fc.bias')!.data;
    const ev = await s.evaluate(images, labels, { batchSize: 8 });
    for (let i = 0; i < f.n; i++) {
      const logits = [0, 1].map((c) => fcB[c]! + f.features.subarray(i * 512, (i + 1) * 512).reduce((acc, x, k) => acc + x * fcW[c * 512 + k]!, 0));
      const p1 = 1 / (1 + Math.exp(logits[0]! - logits[1]!));
      expect(Math.abs(p1 - ev.probs[i * 2 + 1]!)).toBeLessThan(1e-5);
    }
    // another group, and one that does not exist
    const l3 = await s.features(images, { layer: 'layer3' });
    expect([l3.dim, l3.layer]).toEqual([256, 'layer3']);
    await expect(s.features(images, { layer: 'fc' })).rejects.toThrow(/features: resnet18 has no layer 'fc' \(layers: stem, layer1, layer2, layer3, layer4\)/);
    await s.dispose();
  });

  it('a ViT: the mean of the patch tokens of the last block group, 768 per image', async () => {
    const s = await native().Session.create({ model: 'vit_b_16', numClasses: 2, device: 'cpu', seed: 3 });
    const set = await native().ImageSet.build(readImageFolder(vesselFolder(1, 40)).items.map((i) => i.file), 224);
    const f = await s.features(set);
    expect([f.n, f.dim]).toEqual([2, 768]);
    expect(f.features.every(Number.isFinite)).toBe(true);
    await s.dispose();
  });
});
