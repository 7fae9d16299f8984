// MobileNetV2 and EfficientNetV2-S: torchvision's keys and parameter counts, groups that
// cover every parameter once, head replacement, other input sizes, eval determinism,
// a short training run, and a clear error for input that is not [N, 3, H, W].
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

interface Case {
  model: string;
  imagenetParams: number;
  keys: number;
  firstKeys: string[];
  lastKeys: string[];
  someKeys: Record<string, number[]>;
  groups: string[];
  otherSize: number;
}

const FEATURES = 1280;

const CASES: Case[] = [
  {
    model: 'mobilenet_v2',
    imagenetParams: 3_504_872,
    keys: 314,
    firstKeys: ['features.0.0.weight', 'features.0.1.weight', 'features.0.1.bias', 'features.0.1.running_mean'],
    lastKeys: ['features.18.1.num_batches_tracked', 'classifier.1.weight', 'classifier.1.bias'],
    someKeys: {
      'features.1.conv.0.0.weight': [32, 1, 3, 3],
      'features.1.conv.1.weight': [16, 32, 1, 1],
      'features.2.conv.0.0.weight': [96, 16, 1, 1],
      'features.2.conv.1.0.weight': [96, 1, 3, 3],
      'features.2.conv.3.running_var': [24],
      'features.17.conv.2.weight': [320, 960, 1, 1],
      'features.18.0.weight': [1280, 320, 1, 1],
    },
    groups: ['classifier', 'stage5', 'stage4', 'stage3', 'stage2', 'stage1', 'stem'],
    otherSize: 96,
  },
  {
    model: 'efficientnet_v2_s',
    imagenetParams: 21_458_488,
    keys: 782,
    firstKeys: ['features.0.0.weight', 'features.0.1.weight', 'features.0.1.bias', 'features.0.1.running_mean'],
    lastKeys: ['features.7.1.num_batches_tracked', 'classifier.1.weight', 'classifier.1.bias'],
    someKeys: {
      'features.1.0.block.0.0.weight': [24, 24, 3, 3],
      'features.2.0.block.0.0.weight': [96, 24, 3, 3],
      'features.2.0.block.1.0.weight': [48, 96, 1, 1],
      'features.4.0.block.1.0.weight': [256, 1, 3, 3],
      'features.4.0.block.2.fc1.weight': [16, 256, 1, 1],
      'features.4.1.block.2.fc1.bias': [32],
      'features.6.14.block.3.1.running_mean': [256],
      'features.7.0.weight': [1280, 256, 1, 1],
    },
    groups: ['classifier', 'stage6', 'stage5', 'stage4', 'stage3', 'stage2', 'stage1', 'stem'],
    otherSize: 64,
  },
];

function randomInput(n: number, size: number, seed: number): Float32Array {
  const x = new Float32Array(n * 3 * size * size);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32 - 0.5;
  }
  return x;
}

let images: ImageSet;
let labels: Int32Array;

beforeAll(async () => {
  native().setThreads(0);
  const ds = readImageFolder(vesselFolder(2, 32));
  images = await native().ImageSet.build(ds.items.map((i) => i.file), 32);
  labels = Int32Array.from(ds.items.map((i) => i.label));
});

describe.each(CASES)('$model', (c) => {
  it("has torchvision's state_dict keys, shapes and parameter count", async () => {
    const s = await native().Session.create({ model: c.model, numClasses: 1000, device: 'cpu', seed: 1 });
    expect(s.info().params).toBe(c.imagenetParams);
    const keys = s.stateKeys();
    expect(keys.length).toBe(c.keys);
    const names = keys.map((k) => k.name);
    expect(names.slice(0, c.firstKeys.length)).toEqual(c.firstKeys);
    expect(names.slice(-c.lastKeys.length)).toEqual(c.lastKeys);
    const shapes = new Map(keys.map((k) => [k.name, k.shape]));
    for (const [name, shape] of Object.entries(c.someKeys)) expect(shapes.get(name), name).toEqual(shape);
    expect(shapes.get('classifier.1.weight')).toEqual([1000, FEATURES]);
    const info = native().models().find((m) => m.name === c.model)!;
    expect(info.params).toBe(c.imagenetParams);
  });

  it('groups run head to stem and cover every parameter exactly once', async () => {
    const s = await native().Session.create({ model: c.model, numClasses: 3, device: 'cpu', seed: 1 });
    const info = s.info();
    expect(info.groups).toEqual(c.groups);
    let sum = 0;
    for (const g of info.groups) {
      s.setTrainableGroups([g]);
      const n = s.info().trainableParams;
      expect(n, g).toBeGreaterThan(0);
      sum += n;
    }
    expect(sum).toBe(info.params);
    s.setTrainableGroups(['classifier']);
    expect(s.info().trainableParams).toBe(FEATURES * 3 + 3);
  });

  it('replaceHead gives fresh logits of the new class count; other input sizes work', async () => {
    const s = await native().Session.create({ model: c.model, numClasses: 1000, device: 'cpu', seed: 2 });
    await s.replaceHead(5);
    expect(s.info().numClasses).toBe(5);
    expect(s.info().params).toBe(c.imagenetParams - 1000 * (FEATURES + 1) + 5 * (FEATURES + 1));
    const x = randomInput(2, c.otherSize, 3);
    const a = await s.predict(x, [2, 3, c.otherSize, c.otherSize]);
    expect(a.shape).toEqual([2, 5]);
    expect(Array.from(a.data).every(Number.isFinite)).toBe(true);
    // Eval mode: no dropout, no stochastic depth, running statistics -> identical outputs.
    const b = await s.predict(x, [2, 3, c.otherSize, c.otherSize]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    const odd = await s.predict(randomInput(1, 37, 4), [1, 3, 37, 37]);
    expect(odd.shape).toEqual([1, 5]);
  });

  it('trains a short epoch with a finite loss, changing only the head when head-only', async () => {
    const s = await native().Session.create({ model: c.model, numClasses: 2, device: 'cpu', seed: 3 });
    s.setTrainableGroups(['classifier']);
    s.configureOptimizer({ lr: 1e-3 });
    const keysBefore = s.stateKeys().filter((k) => k.trainable).map((k) => k.name);
    expect(keysBefore).toEqual(['classifier.1.weight', 'classifier.1.bias']);
    const snapshot = async (tag: string) => {
      const path = join(tempDir(`mbconv-${tag}`), 'w.safetensors');
      await s.saveWeights(path);
      return new Map((await native().readWeights(path)).map((e) => [e.name, Buffer.from(e.data.buffer)]));
    };
    const before = await snapshot('before');
    const stats = await s.trainEpoch(images, labels, { batchSize: 2, seed: 1 });
    expect(stats.samples).toBe(4);
    expect(Number.isFinite(stats.loss)).toBe(true);
    const after = await snapshot('after');
    for (const [name, b] of before) {
      if (/running_|num_batches/.test(name)) continue;
      expect(after.get(name)!.equals(b), name).toBe(!name.startsWith('classifier.'));
    }
  });

  it('trains every parameter (backward through the in-place activations and stochastic depth)', async () => {
    const s = await native().Session.create({ model: c.model, numClasses: 2, device: 'cpu', seed: 4 });
    s.configureOptimizer({ lr: 1e-3 });
    expect(s.info().trainableParams).toBe(s.info().params);
    const first = await s.trainEpoch(images, labels, { batchSize: 2, seed: 1 });
    const second = await s.trainEpoch(images, labels, { batchSize: 2, seed: 2 });
    expect(Number.isFinite(first.loss) && Number.isFinite(second.loss)).toBe(true);
  });

  it('rejects input that is not [N, 3, H, W], naming the shape', async () => {
    const s = await native().Session.create({ model: c.model, numClasses: 2, device: 'cpu', seed: 1 });
    await expect(s.predict(randomInput(1, 16, 1).subarray(0, 16 * 16), [1, 1, 16, 16])).rejects.toThrow(
      new RegExp(`${c.model} expects input \\[N, 3, H, W\\], got \\[1, 1, 16, 16\\]`),
    );
  });
});
