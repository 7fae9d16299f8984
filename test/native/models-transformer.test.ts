// vit_b_16 and swin_v2_t through the public Session API: registry facts, head replacement,
// parameter groups, input sizes, state_dict buffers, and a training step.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ModelInfo } from '../../binding/models.js';
import type { WeightEntry } from '../../binding/weights.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import { randomInput, sameRow } from '../helpers/tensors.js';

function session(model: string, numClasses: number, seed = 1) {
  return native().Session.create({ model, numClasses, device: 'cpu', seed });
}

type Session = Awaited<ReturnType<typeof session>>;

async function weights(s: Session, name: string): Promise<Map<string, WeightEntry>> {
  const path = join(tempDir(name), 'w.safetensors');
  await s.saveWeights(path);
  return new Map((await native().readWeights(path)).map((e) => [e.name, e] as [string, WeightEntry]));
}

function coversOnce(s: Session, info: ModelInfo) {
  for (const k of s.stateKeys().filter((k) => k.parameter)) {
    const owners = info.groups.filter((g) => g.prefixes.some((p) => k.name.startsWith(p)));
    expect(owners.length, k.name).toBe(1);
  }
  for (const cam of info.camLayers) expect(info.groups.map((g) => g.name)).toContain(cam);
}

let registry: ModelInfo[];

beforeAll(() => {
  native().setThreads(0);
  registry = native().models();
});

describe('vit_b_16', () => {
  const SIZE = 224;
  const HIDDEN = 768;
  const IMAGENET_PARAMS = 86_567_656;

  it('registry facts: fixed 224 input, head heads.head, groups head to stem', () => {
    const info = registry.find((m) => m.name === 'vit_b_16')!;
    expect(info).toBeDefined();
    expect(info.inputSize).toBe(SIZE);
    expect(info.fixedInputSize).toBe(true);
    expect(info.defaultLr).toBe(1e-3);
    expect(info.params).toBe(IMAGENET_PARAMS);
    expect(info.headPrefixes).toEqual(['heads.head.']);
    expect(info.groups.map((g) => g.name)).toEqual(['heads', 'layers9-11', 'layers6-8', 'layers3-5', 'layers0-2', 'stem']);
  });

  it('keys, groups, head replacement, head-only training and the wrong-size error', async () => {
    const info = registry.find((m) => m.name === 'vit_b_16')!;
    const s = await session('vit_b_16', 3);
    expect(s.info().params).toBe(IMAGENET_PARAMS - (HIDDEN + 1) * (1000 - 3));
    const keys = s.stateKeys().map((k) => k.name);
    expect(keys.slice(0, 5)).toEqual([
      'class_token', 'conv_proj.weight', 'conv_proj.bias', 'encoder.pos_embedding',
      'encoder.layers.encoder_layer_0.ln_1.weight',
    ]);
    expect(keys).toContain('encoder.layers.encoder_layer_11.self_attention.in_proj_weight');
    expect(keys).toContain('encoder.layers.encoder_layer_11.mlp.3.bias');
    expect(keys.slice(-4)).toEqual(['encoder.ln.weight', 'encoder.ln.bias', 'heads.head.weight', 'heads.head.bias']);
    coversOnce(s, info);

    // torchvision zero-initialises the head: fresh logits are all zero.
    const x = randomInput(1, SIZE);
    const a = await s.predict(x, [1, 3, SIZE, SIZE]);
    expect(a.shape).toEqual([1, 3]);
    expect(Array.from(a.data)).toEqual([0, 0, 0]);

    await s.replaceHead(5);
    expect(s.info().numClasses).toBe(5);
    expect(s.info().params).toBe(IMAGENET_PARAMS - (HIDDEN + 1) * (1000 - 5));
    s.setTrainableGroups(['heads']);
    expect(s.info().trainableParams).toBe(HIDDEN * 5 + 5);
    expect((await s.predict(x, [1, 3, SIZE, SIZE])).shape).toEqual([1, 5]);

    await expect(s.predict(randomInput(1, 256), [1, 3, 256, 256])).rejects.toThrow(/ViT-B\/16.*224x224.*\[1, 3, 256, 256\]/);
    await expect(s.predict(randomInput(1, 224, 192), [1, 3, 224, 192])).rejects.toThrow(/224x224/);
  });

  it('trains: two Adam steps move the head and then the encoder', async () => {
    const ds = readImageFolder(vesselFolder(1, 48));
    const images = await native().ImageSet.build(ds.items.map((i) => i.file), SIZE);
    const labels = Int32Array.from(ds.items.map((i) => i.label));
    const s = await session('vit_b_16', 2, 3);
    s.configureOptimizer({ lr: 1e-3 });
    const before = await weights(s, 'vit');
    // Batch size 1: the zero head gets its gradient in step 1, the encoder from step 2 on.
    const stats = await s.trainEpoch(images, labels, { batchSize: 1, seed: 1 });
    expect(stats.batches).toBe(2);
    expect(Number.isFinite(stats.loss)).toBe(true);
    const after = await weights(s, 'vit');
    const changed = (name: string) =>
      !Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(before.get(name)!.data.buffer));
    for (const name of [
      'heads.head.weight',
      'encoder.ln.weight',
      'encoder.layers.encoder_layer_11.mlp.3.weight',
      'encoder.layers.encoder_layer_0.self_attention.in_proj_weight',
      'encoder.pos_embedding',
      'class_token',
      'conv_proj.weight',
    ])
      expect(changed(name), name).toBe(true);
  });
});

describe('swin_v2_t', () => {
  const SIZE = 256;
  const FEATURES = 768;
  const IMAGENET_PARAMS = 28_351_570;

  it('registry facts: 256 input (not fixed), head head., groups head to stem', () => {
    const info = registry.find((m) => m.name === 'swin_v2_t')!;
    expect(info).toBeDefined();
    expect(info.inputSize).toBe(SIZE);
    expect(info.fixedInputSize).toBe(false);
    expect(info.defaultLr).toBe(1e-4);
    expect(info.params).toBe(IMAGENET_PARAMS);
    expect(info.headPrefixes).toEqual(['head.']);
    expect(info.groups.map((g) => g.name)).toEqual(['head', 'stage4', 'stage3', 'stage2', 'stage1', 'stem']);
  });

  it('keys and buffers as torchvision, groups, head replacement, other sizes', async () => {
    const info = registry.find((m) => m.name === 'swin_v2_t')!;
    const s = await session('swin_v2_t', 3);
    expect(s.info().params).toBe(IMAGENET_PARAMS - (FEATURES + 1) * (1000 - 3));
    const keys = s.stateKeys();
    expect(keys.slice(0, 9).map((k) => k.name)).toEqual([
      'features.0.0.weight', 'features.0.0.bias', 'features.0.2.weight', 'features.0.2.bias',
      'features.1.0.norm1.weight', 'features.1.0.norm1.bias', 'features.1.0.attn.logit_scale',
      'features.1.0.attn.relative_coords_table', 'features.1.0.attn.relative_position_index',
    ]);
    // Both tables are persistent buffers in torchvision: state_dict keys, not parameters.
    const tables = keys.filter((k) => /relative_(coords_table|position_index)$/.test(k.name));
    expect(tables.length).toBe(2 * 12);
    expect(tables.every((k) => !k.parameter)).toBe(true);
    expect(keys.find((k) => k.name === 'features.7.1.attn.relative_position_index')!.shape).toEqual([4096]);
    expect(keys.find((k) => k.name === 'features.7.1.attn.relative_coords_table')!.shape).toEqual([1, 15, 15, 2]);
    expect(keys.some((k) => k.name === 'features.6.reduction.weight')).toBe(true);
    coversOnce(s, info);

    const x = randomInput(2, SIZE);
    const a = await s.predict(x, [2, 3, SIZE, SIZE]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.data.every(Number.isFinite)).toBe(true);
    // A batch of one gives the same logits as its row in a batch of two.
    const one = await s.predict(x.subarray(0, 3 * SIZE * SIZE), [1, 3, SIZE, SIZE]);
    expect(sameRow(one.data, a.data, 3)).toEqual([]);

    await s.replaceHead(5);
    expect(s.info().params).toBe(IMAGENET_PARAMS - (FEATURES + 1) * (1000 - 5));
    s.setTrainableGroups(['head']);
    expect(s.info().trainableParams).toBe(FEATURES * 5 + 5 + 2 * FEATURES);

    // Windows and patch merging pad other sizes, as torchvision does.
    for (const [h, w] of [[224, 224], [100, 100], [64, 96]]) {
      const out = await s.predict(randomInput(1, h, w), [1, 3, h, w]);
      expect(out.shape).toEqual([1, 5]);
      expect(out.data.every(Number.isFinite)).toBe(true);
    }
    await expect(s.predict(randomInput(1, 3), [1, 3, 3, 3])).rejects.toThrow(/swin_v2_t.*at least 4.*\[1, 3, 3, 3\]/);
  });

  it('trains an epoch: finite loss, every group moves, the tables stay constant', async () => {
    const ds = readImageFolder(vesselFolder(1, 48));
    const images = await native().ImageSet.build(ds.items.map((i) => i.file), SIZE);
    const labels = Int32Array.from(ds.items.map((i) => i.label));
    const s = await session('swin_v2_t', 2, 3);
    s.configureOptimizer({ lr: 1e-3 });
    const before = await weights(s, 'swin');
    const stats = await s.trainEpoch(images, labels, { batchSize: 2, seed: 1 });
    expect(stats.samples).toBe(2);
    expect(Number.isFinite(stats.loss)).toBe(true);
    const after = await weights(s, 'swin');
    const changed = (name: string) =>
      !Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(before.get(name)!.data.buffer));
    for (const name of [
      'head.weight',
      'norm.weight',
      'features.7.1.mlp.0.weight',
      'features.6.reduction.weight',
      'features.5.3.attn.cpb_mlp.0.weight',
      'features.3.1.attn.logit_scale',
      'features.1.0.attn.qkv.weight',
      'features.0.0.weight',
    ])
      expect(changed(name), name).toBe(true);
    expect(changed('features.1.1.attn.relative_coords_table')).toBe(false);
    expect(changed('features.1.1.attn.relative_position_index')).toBe(false);
  });
});
