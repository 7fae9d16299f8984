// inception_v3, densenet121, densenet169 and vgg19 through the public Session API:
// registry facts, head replacement, head-only parameter counts, input-size errors and
// Inception's auxiliary head in training.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ModelInfo } from '../../binding/models.js';
import type { WeightEntry } from '../../binding/weights.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import { randomInput, sameRow } from '../helpers/tensors.js';

const session = (model: string, numClasses: number, seed = 1) =>
  native().Session.create({ model, numClasses, device: 'cpu', seed });

let registry: ModelInfo[];
const info = (name: string) => registry.find((m) => m.name === name)!;

beforeAll(() => {
  native().setThreads(0);
  registry = native().models();
});

/** Parameter count of a Linear(inF, n) with bias. */
const linear = (inF: number, n: number) => inF * n + n;


describe('registry rows', () => {
  it('inception_v3: 299 input, both heads form the head group', () => {
    const m = info('inception_v3');
    expect(m).toBeDefined();
    expect(m.inputSize).toBe(299);
    expect(m.fixedInputSize).toBe(false);
    expect(m.defaultLr).toBe(1e-3);
    expect(m.params).toBe(27_161_264);
    expect(m.headPrefixes).toEqual(['fc.', 'AuxLogits.fc.']);
    expect(m.groups.map((g) => g.name)).toEqual(['fc', 'Mixed_7', 'Mixed_6', 'Mixed_5', 'stem']);
    expect(m.groups[0].prefixes).toEqual(['fc.', 'AuxLogits.fc.']);
    expect(m.groups[2].prefixes).toContain('AuxLogits.conv0.');
  });

  it('densenet121/169 and vgg19: sizes, learning rates, heads, groups', () => {
    for (const [name, params] of [['densenet121', 7_978_856], ['densenet169', 14_149_480]] as const) {
      const m = info(name);
      expect(m.inputSize).toBe(224);
      expect(m.fixedInputSize).toBe(false);
      expect(m.defaultLr).toBe(1e-3);
      expect(m.params).toBe(params);
      expect(m.headPrefixes).toEqual(['classifier.']);
      expect(m.groups.map((g) => g.name)).toEqual([
        'classifier', 'denseblock4', 'denseblock3', 'denseblock2', 'denseblock1', 'stem',
      ]);
    }
    const v = info('vgg19');
    expect(v.inputSize).toBe(224);
    expect(v.fixedInputSize).toBe(false);
    expect(v.defaultLr).toBe(1e-4);
    expect(v.params).toBe(143_667_240);
    expect(v.headPrefixes).toEqual(['classifier.6.']);
    expect(v.groups.map((g) => g.name)).toEqual([
      'classifier.6', 'classifier', 'block5', 'block4', 'block3', 'block2', 'block1',
    ]);
    expect(v.groups[2].prefixes).toEqual(['features.28.', 'features.30.', 'features.32.', 'features.34.']);
    expect(v.groups[6].prefixes).toEqual(['features.0.', 'features.2.']);
  });
});

describe('inception_v3', () => {
  it('predicts [N, n]; a batch of one equals its row; replaceHead swaps both heads', async () => {
    const s = await session('inception_v3', 3);
    const full = 27_161_264 - linear(2048, 1000) - linear(768, 1000);
    expect(s.info().params).toBe(full + linear(2048, 3) + linear(768, 3));
    const x = randomInput(2, 299);
    const a = await s.predict(x, [2, 3, 299, 299]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.data.every(Number.isFinite)).toBe(true);
    const one = await s.predict(x.subarray(0, 3 * 299 * 299), [1, 3, 299, 299]);
    expect(sameRow(one.data, a.data, 3)).toEqual([]);

    await s.replaceHead(5);
    expect(s.info().params).toBe(full + linear(2048, 5) + linear(768, 5));
    const keys = s.stateKeys();
    expect(keys.find((k) => k.name === 'fc.weight')!.shape).toEqual([5, 2048]);
    expect(keys.find((k) => k.name === 'AuxLogits.fc.weight')!.shape).toEqual([5, 768]);
    s.setTrainableGroups(['fc']);
    expect(s.info().trainableParams).toBe(linear(2048, 5) + linear(768, 5));
    s.setTrainableGroups(['fc', 'Mixed_7', 'Mixed_6']);
    expect(s.stateKeys().find((k) => k.name === 'AuxLogits.conv1.conv.weight')!.trainable).toBe(true);
    expect(s.stateKeys().find((k) => k.name === 'Mixed_5b.branch1x1.conv.weight')!.trainable).toBe(false);
  });

  it('evaluates from 75x75 up; smaller inputs get an error naming the sizes that work', async () => {
    const s = await session('inception_v3', 2);
    expect((await s.predict(randomInput(1, 75), [1, 3, 75, 75])).shape).toEqual([1, 2]);
    await expect(s.predict(randomInput(1, 74), [1, 3, 74, 74])).rejects.toThrow(/inception_v3.*at least 75x75.*\[1, 3, 74, 74\]/);
  });

  it('training uses the auxiliary head (its weights move) and needs 299x299 inputs', async () => {
    const files = readImageFolder(vesselFolder(1, 64)).items.map((i) => i.file);
    const labels = Int32Array.from([0, 1]);
    const s = await session('inception_v3', 2, 3);
    s.configureOptimizer({ lr: 1e-3 });
    const small = await native().ImageSet.build(files, 224);
    await expect(s.trainEpoch(small, labels, { batchSize: 2, seed: 1 })).rejects.toThrow(/auxiliary.*299x299/);

    const path = join(tempDir('inception'), 'w.safetensors');
    const read = async () => {
      await s.saveWeights(path);
      return new Map((await native().readWeights(path)).map((e) => [e.name, e] as [string, WeightEntry]));
    };
    const before = await read();
    const images = await native().ImageSet.build(files, 299);
    const stats = await s.trainEpoch(images, labels, { batchSize: 2, seed: 1 });
    expect(stats.samples).toBe(2);
    expect(Number.isFinite(stats.loss)).toBe(true);
    const after = await read();
    const changed = (name: string) =>
      !Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(before.get(name)!.data.buffer));
    for (const name of ['fc.weight', 'AuxLogits.fc.weight', 'AuxLogits.conv0.conv.weight', 'Conv2d_1a_3x3.conv.weight'])
      expect(changed(name), name).toBe(true);
  });
});

describe('densenet', () => {
  it('densenet121: predicts [N, n], replaceHead, head-only trains just the classifier', async () => {
    const s = await session('densenet121', 3);
    expect(s.info().params).toBe(7_978_856 - linear(1024, 1000) + linear(1024, 3));
    const x = randomInput(2, 64);
    const a = await s.predict(x, [2, 3, 64, 64]);
    expect(a.shape).toEqual([2, 3]);
    const one = await s.predict(x.subarray(0, 3 * 64 * 64), [1, 3, 64, 64]);
    expect(sameRow(one.data, a.data, 3)).toEqual([]);
    await s.replaceHead(7);
    expect((await s.predict(x, [2, 3, 64, 64])).shape).toEqual([2, 7]);
    s.setTrainableGroups(['classifier']);
    expect(s.info().trainableParams).toBe(linear(1024, 7));
    expect(s.stateKeys().filter((k) => k.trainable).map((k) => k.name)).toEqual(['classifier.weight', 'classifier.bias']);
    await expect(s.predict(randomInput(1, 28), [1, 3, 28, 28])).rejects.toThrow(/densenet121.*at least 29x29/);
  });

  it('densenet169: 1664 features into the classifier; the last group holds transition3 and norm5', async () => {
    const s = await session('densenet169', 2);
    expect(s.info().params).toBe(14_149_480 - linear(1664, 1000) + linear(1664, 2));
    s.setTrainableGroups(['classifier']);
    expect(s.info().trainableParams).toBe(linear(1664, 2));
    s.setTrainableGroups(['denseblock4']);
    const names = s.stateKeys().filter((k) => k.trainable).map((k) => k.name);
    expect(names[0]).toBe('features.transition3.norm.weight');
    expect(names.at(-1)).toBe('features.norm5.bias');
    expect(names.filter((n) => n.endsWith('.conv2.weight'))).toHaveLength(32);
  });
});

describe('vgg19', () => {
  it('predicts [N, n] at 224 and smaller sizes >= 32; replaceHead swaps classifier.6 only', async () => {
    const s = await session('vgg19', 4);
    expect(s.info().params).toBe(143_667_240 - linear(4096, 1000) + linear(4096, 4));
    const x = randomInput(1, 224);
    expect((await s.predict(x, [1, 3, 224, 224])).shape).toEqual([1, 4]);
    expect((await s.predict(randomInput(2, 32), [2, 3, 32, 32])).shape).toEqual([2, 4]);
    await expect(s.predict(randomInput(1, 31), [1, 3, 31, 31])).rejects.toThrow(/vgg19.*at least 32x32/);
    await s.replaceHead(2);
    s.setTrainableGroups(['classifier.6']);
    expect(s.info().trainableParams).toBe(linear(4096, 2));
    s.setTrainableGroups(['classifier']);
    expect(s.info().trainableParams).toBe(linear(25088, 4096) + linear(4096, 4096));
  });
});
