// LoRA adapters (src-native/nn/lora.*) through the Session API and the _testLoraConv hook:
// a fresh adapter changes nothing, the delta-weight forward equals the adapter form and
// the merge, training moves only the head and the adapters, grouped convs are skipped,
// parameter counts, checkpoints and errors.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { NativeSession } from '../../binding/session.js';
import type { WeightEntry } from '../../binding/weights.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { testHooks } from '../helpers/hooks.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import { randomInput } from '../helpers/tensors.js';

const SIZE = 64;
let images: ImageSet;
let labels: Int32Array;

beforeAll(async () => {
  native().setThreads(0);
  const ds = readImageFolder(vesselFolder(8, SIZE));
  images = await native().ImageSet.build(ds.items.map((i) => i.file), SIZE);
  labels = Int32Array.from(ds.items.map((i) => i.label));
});

async function session(model = 'resnet18', seed = 1): Promise<NativeSession> {
  const s = await native().Session.create({ model, numClasses: 2, device: 'cpu', seed });
  s.configureOptimizer({ lr: 1e-3 });
  return s;
}

const X = randomInput(2, SIZE, SIZE, 5);
const predict = async (s: NativeSession) => (await s.predict(X, [2, 3, SIZE, SIZE])).data;

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function weights(s: NativeSession, mergeLora = false): Promise<Map<string, WeightEntry>> {
  const path = join(tempDir('lora-w'), 'w.safetensors');
  await s.saveWeights(path, { mergeLora });
  return new Map((await native().readWeights(path)).map((e) => [e.name, e]));
}

const same = (a: WeightEntry, b: WeightEntry) => Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer));
const isLora = (name: string) => /\.lora_[AB]\./.test(name);
const nonHeadGroups = (s: NativeSession) => s.info().groups.slice(1);

describe('LoRA', () => {
  it('a fresh adapter (B = 0) leaves resnet18 eval outputs unchanged', async () => {
    const s = await session();
    const before = await predict(s);
    const r = await s.applyLora({ groups: nonHeadGroups(s) });
    expect(r.adapted.length).toBe(20); // 17 3x3/7x7 convs + 3 downsample convs
    expect(r.adapted).toContain('conv1');
    expect(r.adapted).toContain('layer4.0.downsample.0');
    expect(r.skipped).toEqual([]);
    expect(maxDiff(await predict(s), before)).toBe(0);
    // A plain weight file still loads into the base weights; the adapters stay.
    const file = join(tempDir('lora-plain'), 'p.safetensors');
    const plain = await session('resnet18', 5);
    await plain.saveWeights(file);
    const plainOut = await predict(plain);
    const loaded = await s.loadWeights(file);
    expect(loaded.loaded).toBe(plain.stateKeys().length);
    expect(s.stateKeys().filter((k) => isLora(k.name)).length).toBe(40);
    expect(maxDiff(await predict(s), plainOut)).toBe(0);
  });

  const hooks = testHooks();
  it.skipIf(!hooks)('_testLoraConv: refreshed weight, explicit adapters and merge agree', () => {
    const combos = [
      { kernel: 3, stride: 1, padding: 1, dilation: 1, rank: 8 },
      { kernel: 3, stride: 2, padding: 0, dilation: 1, rank: 2 },
      { kernel: 5, stride: 2, padding: 2, dilation: 2, rank: 3 },
      { kernel: 1, stride: 1, padding: 0, dilation: 1, rank: 4 },
      { kernel: 3, stride: 3, padding: 2, dilation: 3, rank: 1, bias: false },
      { kernel: 7, stride: 2, padding: 3, dilation: 1, rank: 8 },
    ];
    for (const [i, c] of combos.entries()) {
      const r = hooks!._testLoraConv({ inChannels: 4, outChannels: 6, groups: 1, alpha: 16, seed: i + 1, ...c });
      expect(r.viaDelta.length).toBeGreaterThan(0);
      expect(maxDiff(r.viaDelta, r.base), 'the adapter must matter').toBeGreaterThan(0.05);
      expect(maxDiff(r.viaDelta, r.viaAdapters), JSON.stringify(c)).toBeLessThan(1e-5);
      expect(maxDiff(r.viaDelta, r.merged), JSON.stringify(c)).toBeLessThan(1e-5);
      expect(r.keys).toEqual(c.bias === false ? ['conv.weight'] : ['conv.weight', 'conv.bias']);
    }
    expect(() => hooks!._testLoraConv({ inChannels: 4, outChannels: 6, kernel: 3, groups: 2, rank: 2, seed: 1 })).toThrow(
      /grouped convolution \(groups=2\)/,
    );
  });

  it('training moves only the head and the adapters; merging keeps the outputs and the plain keys', async () => {
    const plainKeys = (await session()).stateKeys().map((k) => k.name);
    const s = await session();
    await s.applyLora({ groups: nonHeadGroups(s) });
    const before = await weights(s);
    expect([...before.keys()].filter(isLora).length).toBe(40);
    await s.trainEpoch(images, labels, { batchSize: 8, seed: 3 });
    const after = await weights(s);
    let frozen = 0;
    for (const [name, b] of before) {
      const a = after.get(name)!;
      if (name.startsWith('fc.')) expect(same(a, b), name).toBe(false);
      else if (/\.lora_B\./.test(name)) expect(same(a, b), name).toBe(false);
      else if (!isLora(name) && !/running_|num_batches/.test(name)) {
        expect(same(a, b), name).toBe(true);
        frozen++;
      }
    }
    expect(frozen).toBe(60);

    const unmerged = await predict(s);
    const mergedFile = join(tempDir('lora-m'), 'm.safetensors');
    await s.saveWeights(mergedFile); // merged weights, session untouched
    expect(maxDiff(await predict(s), unmerged)).toBe(0);
    expect((await native().readWeights(mergedFile)).map((e) => e.name)).toEqual(plainKeys);

    await s.mergeLora();
    expect(maxDiff(await predict(s), unmerged)).toBeLessThan(1e-5);
    expect(s.stateKeys().map((k) => k.name)).toEqual(plainKeys);
    expect(s.info().trainableParams).toBe(512 * 2 + 2);

    // The exported merged file loads into a plain model and predicts the same.
    const plain = await session('resnet18', 7);
    await plain.loadWeights(mergedFile);
    expect(maxDiff(await predict(plain), unmerged)).toBeLessThan(1e-5);
  });

  it('mobilenet_v2: depthwise convs are skipped with the reason, the others adapted', async () => {
    const s = await session('mobilenet_v2');
    const shapes = new Map(s.stateKeys().map((k) => [k.name, k.shape]));
    const r = await s.applyLora({ groups: s.info().groups });
    const grouped = r.skipped.filter((k) => /^grouped convolution \(groups=\d+\)$/.test(k.reason));
    expect(grouped.length).toBe(17);
    for (const k of grouped) {
      const shape = shapes.get(`${k.name}.weight`)!;
      expect(shape[1]).toBe(1); // depthwise: one input channel per group
      expect(k.reason).toBe(`grouped convolution (groups=${shape[0]})`);
    }
    // The head is named but never adapted.
    expect(r.skipped.filter((k) => k.reason === 'head (trains fully)').map((k) => k.name)).toEqual(['classifier.1']);
    expect(r.skipped.length).toBe(18);
    // Every other conv is adapted: 1 stem + 1 + 16 * 2 pointwise + the last 1x1 conv.
    expect(r.adapted.length).toBe(35);
    expect(r.adapted).toContain('features.0.0');
    expect(r.adapted).toContain('features.18.0');
    const keys = new Set(s.stateKeys().map((k) => k.name));
    for (const name of r.adapted) expect(keys.has(`${name}.lora_A.weight`) && keys.has(`${name}.lora_B.weight`), name).toBe(true);
    for (const k of grouped) expect(keys.has(`${k.name}.lora_A.weight`)).toBe(false);
  });

  it('parameter counts: resnet18 with adapters on layer4', async () => {
    const s = await session();
    const plain = s.info();
    const keys = s.stateKeys();
    let expected = 0;
    let convs = 0;
    const rank = 8;
    for (const k of keys)
      if (k.name.startsWith('layer4.') && k.name.endsWith('.weight') && k.shape.length === 4) {
        const [out, inC, kh, kw] = k.shape;
        expected += rank * inC * kh * kw + out * rank;
        convs++;
      }
    expect(convs).toBe(5);
    const r = await s.applyLora({ groups: ['layer4'] });
    expect(r.adapted.length).toBe(5);
    expect(r.loraParams).toBe(expected);
    expect(r.trainableParams).toBe(512 * 2 + 2 + expected);
    expect(r.totalParams).toBe(plain.params + expected);
    expect(s.info().trainableParams).toBe(r.trainableParams);
    expect(s.info().params).toBe(r.totalParams);
    expect(s.info().trainableGroups).toEqual(['fc']);
    for (const k of s.stateKeys())
      if (k.parameter) expect(k.trainable, k.name).toBe(k.name.startsWith('fc.') || isLora(k.name));
    // rank and alpha are honoured
    const s2 = await session();
    const r2 = await s2.applyLora({ groups: ['layer4'], rank: 2, alpha: 4 });
    expect(r2.loraParams).toBe(expected / 4);
  });

  it('checkpoints record the adapters: same applyLora loads identically, a plain session refuses', async () => {
    const dir = tempDir('lora-ckpt');
    const a = await session('resnet18', 11);
    await a.applyLora({ groups: ['layer4', 'layer3'], rank: 4, alpha: 8 });
    await a.trainEpoch(images, labels, { batchSize: 8, seed: 1 });
    const ckpt = join(dir, 'c.ckpt');
    await a.saveCheckpoint(ckpt, JSON.stringify({ epoch: 1 }));
    const expected = await predict(a);

    const b = await session('resnet18', 99);
    await b.applyLora({ groups: ['layer3', 'layer4'], rank: 4, alpha: 8 });
    expect(JSON.parse(await b.loadCheckpoint(ckpt))).toEqual({ epoch: 1 });
    expect(Array.from(await predict(b))).toEqual(Array.from(expected));
    expect(b.info().trainableParams).toBe(a.info().trainableParams);
    // training resumes identically
    const na = await a.trainEpoch(images, labels, { batchSize: 8, seed: 2 });
    const nb = await b.trainEpoch(images, labels, { batchSize: 8, seed: 2 });
    expect(nb.loss).toBeCloseTo(na.loss, 5);

    const plain = await session('resnet18', 3);
    await expect(plain.loadCheckpoint(ckpt)).rejects.toThrow(/holds LoRA adapters \(rank 4, alpha 8, groups layer4,layer3\).*applyLora/);
    const other = await session('resnet18', 3);
    await other.applyLora({ groups: ['layer4'], rank: 4, alpha: 8 });
    await expect(other.loadCheckpoint(ckpt)).rejects.toThrow(/differ from this session's/);

    const plainCkpt = join(dir, 'plain.ckpt');
    await plain.saveCheckpoint(plainCkpt, '{}');
    const lora = await session('resnet18', 3);
    await lora.applyLora({ groups: ['layer4'] });
    await expect(lora.loadCheckpoint(plainCkpt)).rejects.toThrow(/has no LoRA adapters but this session has/);
  });

  it('errors: unknown group, rank 0, bad alpha, only the head, applied twice', async () => {
    const s = await session();
    await expect(s.applyLora({ groups: ['layer9'] })).rejects.toThrow(/no group 'layer9'.*layer4/);
    expect(() => s.applyLora({ groups: ['layer4'], rank: 0 })).toThrow(/Session.applyLora: options.rank must be an integer in 1\.\.65536, got 0/);
    await expect(s.applyLora({ groups: ['layer4'], alpha: 0 })).rejects.toThrow(/alpha must be a positive number/);
    await expect(s.applyLora({ groups: ['fc'] })).rejects.toThrow(/other than the head 'fc'/);
    expect(() => s.applyLora({} as { groups: string[] })).toThrow(/groups must be an array/);
    expect(s.stateKeys().some((k) => isLora(k.name))).toBe(false);
    await s.applyLora({ groups: ['layer4'] });
    await expect(s.applyLora({ groups: ['layer3'] })).rejects.toThrow(/already applied.*mergeLora/);
    await s.mergeLora();
    await s.mergeLora(); // no-op without adapters
    expect(s.stateKeys().some((k) => isLora(k.name))).toBe(false);
  });
});
