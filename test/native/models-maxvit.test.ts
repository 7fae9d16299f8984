// maxvit_t through the public Session API: registry facts, head replacement, parameter
// groups, the fixed input size, and a training epoch (stochastic depth, BatchNorm in
// train mode, gradients through the relative position bias tables).
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ModelInfo } from '../../binding/models.js';
import type { WeightEntry } from '../../binding/weights.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import { randomInput, sameRow } from '../helpers/tensors.js';

const SIZE = 224;
const FEATURES = 512;
const IMAGENET_PARAMS = 30_919_624;

function session(numClasses: number, seed = 1) {
  return native().Session.create({ model: 'maxvit_t', numClasses, device: 'cpu', seed });
}

let info: ModelInfo;

beforeAll(() => {
  native().setThreads(0);
  info = native().models().find((m) => m.name === 'maxvit_t')!;
});

describe('maxvit_t', () => {
  it('registry facts: 224 fixed input, head classifier.5, groups head to stem', () => {
    expect(info).toBeDefined();
    expect(info.inputSize).toBe(224);
    expect(info.fixedInputSize).toBe(true);
    expect(info.defaultLr).toBe(1e-4);
    expect(info.params).toBe(IMAGENET_PARAMS);
    expect(info.headPrefixes).toEqual(['classifier.5.']);
    expect(info.groups.map((g) => g.name)).toEqual([
      'classifier', 'pre_logits', 'blocks.3', 'blocks.2', 'blocks.1', 'blocks.0', 'stem',
    ]);
    for (const cam of info.camLayers) expect(info.groups.map((g) => g.name)).toContain(cam);
  });

  it('predicts [N, n] logits, deterministically in eval mode; replaceHead changes the class count', async () => {
    const s = await session(3);
    expect(s.info().params).toBe(IMAGENET_PARAMS - FEATURES * 1000 + FEATURES * 3);
    const x = randomInput(2, SIZE);
    const a = await s.predict(x, [2, 3, SIZE, SIZE]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.data.every(Number.isFinite)).toBe(true);
    const b = await s.predict(x, [2, 3, SIZE, SIZE]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    // A batch of one gives the same logits as its row in a batch of two.
    const one = await s.predict(x.subarray(0, 3 * SIZE * SIZE), [1, 3, SIZE, SIZE]);
    expect(sameRow(one.data, a.data, 3)).toEqual([]);

    await s.replaceHead(5);
    expect(s.info().numClasses).toBe(5);
    expect(s.info().params).toBe(IMAGENET_PARAMS - FEATURES * 1000 + FEATURES * 5);
    const c = await s.predict(x.subarray(0, 3 * SIZE * SIZE), [1, 3, SIZE, SIZE]);
    expect(c.shape).toEqual([1, 5]);
  });

  it('groups cover every parameter exactly once; head-only trains just classifier.5 (no bias)', async () => {
    const s = await session(4);
    const keys = s.stateKeys();
    const params = keys.filter((k) => k.parameter);
    for (const k of params) {
      const owners = info.groups.filter((g) => g.prefixes.some((p) => k.name.startsWith(p)));
      expect(owners.length, k.name).toBe(1);
    }
    // torchvision's relative_position_index is a persistent buffer: a state_dict key.
    const index = keys.filter((k) => k.name.endsWith('relative_position_index'));
    expect(index.length).toBe(2 * 11);
    expect(index.every((k) => !k.parameter && k.shape.join('x') === '49x49')).toBe(true);

    s.setTrainableGroups(['classifier']);
    expect(s.info().trainableParams).toBe(FEATURES * 4);
    expect(s.stateKeys().filter((k) => k.trainable).map((k) => k.name)).toEqual(['classifier.5.weight']);
    s.setTrainableGroups(['classifier', 'pre_logits']);
    expect(s.info().trainableParams).toBe(FEATURES * 4 + 2 * FEATURES + FEATURES * FEATURES + FEATURES);
  });

  it('rejects input sizes whose stage grids do not split into 7x7 partitions, naming 224', async () => {
    const s = await session(2);
    await expect(s.predict(randomInput(1, 256), [1, 3, 256, 256])).rejects.toThrow(/maxvit_t.*224.*\[1, 3, 256, 256\]/);
    await expect(s.predict(randomInput(1, 224, 448), [1, 3, 224, 448])).rejects.toThrow(/square 224x224/);
  });

  it('trains an epoch: finite loss, and every parameter group moves (bias tables included)', async () => {
    const ds = readImageFolder(vesselFolder(1, 48));
    const images = await native().ImageSet.build(ds.items.map((i) => i.file), SIZE);
    const labels = Int32Array.from(ds.items.map((i) => i.label));
    const s = await session(2, 3);
    s.configureOptimizer({ lr: 1e-3 });
    const path = join(tempDir('maxvit'), 'w.safetensors');
    const read = async () => {
      await s.saveWeights(path);
      return new Map((await native().readWeights(path)).map((e) => [e.name, e] as [string, WeightEntry]));
    };
    const before = await read();
    const stats = await s.trainEpoch(images, labels, { batchSize: 2, seed: 1 });
    expect(stats.samples).toBe(2);
    expect(Number.isFinite(stats.loss)).toBe(true);
    const after = await read();
    const changed = (name: string) =>
      !Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(before.get(name)!.data.buffer));
    for (const name of [
      'classifier.5.weight',
      'classifier.3.weight',
      'blocks.3.layers.1.layers.grid_attention.attn_layer.1.relative_position_bias_table',
      'blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_bias_table',
      'blocks.0.layers.0.layers.MBconv.layers.conv_b.0.weight',
      'stem.0.0.weight',
      // BatchNorm statistics update in train mode.
      'stem.0.1.running_mean',
    ])
      expect(changed(name), name).toBe(true);
    // The index buffers are constants.
    expect(changed('blocks.2.layers.3.layers.window_attention.attn_layer.1.relative_position_index')).toBe(false);
  });
});
