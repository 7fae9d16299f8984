// LayerCAM through the native Session: result shapes and ranges, fusion, errors, batching,
// image-set batches, frozen groups, every registry model's default layers, and memory
// over many calls. Numerical agreement with PyTorch is in test/parity/layercam.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { LayerCamResult, NativeSession } from '../../binding/session.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { vesselFolder } from '../helpers/images.js';
import { maxAbsDiff } from '../helpers/python.js';
import { randomInput } from '../helpers/tensors.js';

const SIZE = 64;
let files: string[] = [];
let labels: Int32Array;
const sets = new Map<number, ImageSet>();

async function imagesAt(size: number): Promise<ImageSet> {
  if (!sets.has(size)) sets.set(size, await native().ImageSet.build(files, size));
  return sets.get(size)!;
}

function expectValidMaps(r: LayerCamResult, n: number, layers: number, size: number, what: string): void {
  expect(r.n, what).toBe(n);
  expect(r.height, what).toBe(size);
  expect(r.width, what).toBe(size);
  expect(r.layers.length, what).toBe(layers);
  expect(r.maps.length, what).toBe(n * layers * size * size);
  expect(r.classes.length, what).toBe(n);
  expect(r.probs.length, what).toBe(n * r.numClasses);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of r.maps) {
    if (!(v >= 0 && v <= 1)) throw new Error(`${what}: map value ${v} outside [0, 1]`);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < r.numClasses; c++) sum += r.probs[i * r.numClasses + c];
    expect(sum, what).toBeCloseTo(1, 4);
  }
}

/** Max and min of one map [image i, layer j]. */
function mapRange(r: LayerCamResult, i: number, j: number): [number, number] {
  const per = r.height * r.width;
  const off = (i * r.layers.length + j) * per;
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = off; k < off + per; k++) {
    lo = Math.min(lo, r.maps[k]);
    hi = Math.max(hi, r.maps[k]);
  }
  return [lo, hi];
}

let resnet: NativeSession;

beforeAll(async () => {
  native().setThreads(0);
  const ds = readImageFolder(vesselFolder(3, 72));
  files = ds.items.map((i) => i.file);
  labels = Int32Array.from(ds.items.map((i) => i.label));
  resnet = await native().Session.create({ model: 'resnet18', numClasses: 3, device: 'cpu', seed: 1 });
});

describe('LayerCAM', () => {
  it('info() names the default and the valid CAM layers', () => {
    const info = resnet.info();
    expect(info.camLayers).toEqual(['layer1', 'layer2', 'layer3', 'layer4']);
    expect(info.camLayerChoices).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
  });

  it('returns one [0, 1] map per image and layer at the input size, min-max normalised', async () => {
    const r = await resnet.layerCam(randomInput(2, SIZE), { n: 2, size: SIZE });
    expect(r.layers).toEqual(['layer1', 'layer2', 'layer3', 'layer4']);
    expect(r.fused).toBeNull();
    expectValidMaps(r, 2, 4, SIZE, 'resnet18');
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) {
        const [lo, hi] = mapRange(r, i, j);
        expect(lo).toBe(0);
        expect(hi).toBeCloseTo(1, 6);
      }
    // The predicted class is the arg-max of the probabilities.
    for (let i = 0; i < 2; i++) {
      const row = Array.from(r.probs.subarray(i * 3, i * 3 + 3));
      expect(r.classes[i]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  it('fuses the layer maps with max or mean', async () => {
    const input = randomInput(2, SIZE, SIZE, 5);
    const layers = ['layer2', 'layer3', 'layer4'];
    const none = await resnet.layerCam(input, { n: 2, size: SIZE, layers });
    const max = await resnet.layerCam(input, { n: 2, size: SIZE, layers, fusion: 'max' });
    const mean = await resnet.layerCam(input, { n: 2, size: SIZE, layers, fusion: 'mean' });
    expect(max.maps).toEqual(none.maps);
    const per = SIZE * SIZE;
    expect(max.fused!.length).toBe(2 * per);
    expect(mean.fused!.length).toBe(2 * per);
    let worst = 0;
    for (let i = 0; i < 2; i++)
      for (let k = 0; k < per; k++) {
        const vals = layers.map((_, j) => none.maps[(i * 3 + j) * per + k]);
        expect(max.fused![i * per + k]).toBe(Math.max(...vals));
        worst = Math.max(worst, Math.abs(mean.fused![i * per + k] - (vals[0] + vals[1] + vals[2]) / 3));
      }
    expect(worst).toBeLessThan(1e-6);
  });

  it('explains given classes, -1 meaning the predicted one, and a single number for all', async () => {
    const input = randomInput(2, SIZE, SIZE, 9);
    const predicted = await resnet.layerCam(input, { n: 2, size: SIZE });
    const p0 = predicted.classes[0];
    const other = (p0 + 1) % 3;
    const mixed = await resnet.layerCam(input, { n: 2, size: SIZE, classes: [other, -1] });
    expect(Array.from(mixed.classes)).toEqual([other, predicted.classes[1]]);
    const per = 4 * SIZE * SIZE;
    // Image 1 asked for its predicted class: the same maps as in the all-predicted call.
    expect(maxAbsDiff(mixed.maps.subarray(per), predicted.maps.subarray(per))).toBeLessThan(1e-6);
    expect(maxAbsDiff(mixed.maps.subarray(0, per), predicted.maps.subarray(0, per))).toBeGreaterThan(1e-3);
    const all = await resnet.layerCam(input, { n: 2, size: SIZE, classes: 2 });
    expect(Array.from(all.classes)).toEqual([2, 2]);
  });

  it('computes a batch as its images one by one', async () => {
    const input = randomInput(3, SIZE, SIZE, 11);
    const batch = await resnet.layerCam(input, { n: 3, size: SIZE, classes: [0, 1, 2] });
    const one = 3 * SIZE * SIZE;
    const per = 4 * SIZE * SIZE;
    for (let i = 0; i < 3; i++) {
      const single = await resnet.layerCam(input.slice(i * one, (i + 1) * one), { n: 1, size: SIZE, classes: [i] });
      let d = 0;
      for (let k = 0; k < per; k++) d = Math.max(d, Math.abs(single.maps[k] - batch.maps[i * per + k]));
      expect(d).toBeLessThan(1e-4);
    }
  });

  it('rejects an unknown layer listing the valid ones, a bad class, a bad fusion and a wrong length', async () => {
    const input = randomInput(1, SIZE);
    await expect(resnet.layerCam(input, { n: 1, size: SIZE, layers: ['layer5'] })).rejects.toThrow(
      /unknown LayerCAM layer 'layer5' for resnet18 \(valid layers: stem, layer1, layer2, layer3, layer4\)/,
    );
    await expect(resnet.layerCam(input, { n: 1, size: SIZE, layers: ['fc'] })).rejects.toThrow(/valid layers/);
    await expect(resnet.layerCam(input, { n: 1, size: SIZE, classes: [3] })).rejects.toThrow(/class 3 .*outside 0\.\.2/);
    await expect(resnet.layerCam(input, { n: 1, size: SIZE, classes: [-2] })).rejects.toThrow(/class -2/);
    await expect(resnet.layerCam(input, { n: 1, size: SIZE, fusion: 'sum' as 'max' })).rejects.toThrow(/fusion 'sum'/);
    expect(() => resnet.layerCam(input, { n: 2, size: SIZE })).toThrow(/expected n \* 3 \* size \* size/);
    expect(() => resnet.layerCam(input, { n: 1, size: SIZE, classes: [0, 1] })).toThrow(/2 entries for 1 images/);
    // The session still works afterwards.
    expectValidMaps(await resnet.layerCam(input, { n: 1, size: SIZE }), 1, 4, SIZE, 'after errors');
  });

  it('leaves predictions unchanged', async () => {
    const input = randomInput(2, SIZE, SIZE, 3);
    const before = await resnet.predict(input, [2, 3, SIZE, SIZE]);
    const cam = await resnet.layerCam(input, { n: 2, size: SIZE });
    const after = await resnet.predict(input, [2, 3, SIZE, SIZE]);
    expect(after.data).toEqual(before.data);
    // The same forward pass: its probabilities are the softmax of predict's logits.
    for (let i = 0; i < 2; i++) {
      const row = Array.from(before.data.subarray(i * 3, i * 3 + 3));
      const m = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
      for (let c = 0; c < 3; c++) expect(cam.probs[i * 3 + c]).toBeCloseTo(Math.exp(row[c] - m) / z, 5);
    }
  });

  it('layerCamImages batches image-set images as evaluate does', async () => {
    const set = await imagesAt(SIZE);
    const indices = [0, 2, 5];
    const viaSet = await resnet.layerCamImages(set, indices, { fusion: 'max' });
    const viaInput = await resnet.layerCam(set.batch(indices, false, 0), { n: 3, size: SIZE, fusion: 'max' });
    expect(viaSet.maps).toEqual(viaInput.maps);
    expect(viaSet.fused).toEqual(viaInput.fused);
    expect(viaSet.classes).toEqual(viaInput.classes);
    // The probabilities equal evaluate()'s for those images.
    const ev = await resnet.evaluate(set, labels, { batchSize: 4 });
    for (const [k, idx] of indices.entries())
      for (let c = 0; c < 3; c++) expect(viaSet.probs[k * 3 + c]).toBeCloseTo(ev.probs[idx * 3 + c], 5);
    await expect(resnet.layerCamImages(set, [set.count])).rejects.toThrow(/image index 6 is outside 0\.\.5/);
  });

  it('works with frozen groups (head-only training) and gives the same maps', async () => {
    const s = await native().Session.create({ model: 'resnet18', numClasses: 3, device: 'cpu', seed: 1 });
    const input = randomInput(2, SIZE, SIZE, 21);
    const all = await s.layerCam(input, { n: 2, size: SIZE, layers: ['stem', 'layer1', 'layer4'] });
    s.setTrainableGroups(['fc']);
    const headOnly = await s.layerCam(input, { n: 2, size: SIZE, layers: ['stem', 'layer1', 'layer4'] });
    expect(maxAbsDiff(headOnly.maps, all.maps)).toBeLessThan(1e-6);
    s.setTrainableGroups(['layer3', 'fc']);
    const partly = await s.layerCam(input, { n: 2, size: SIZE, layers: ['stem', 'layer1', 'layer4'] });
    expect(maxAbsDiff(partly.maps, all.maps)).toBeLessThan(1e-6);
  });

  it('works with LoRA adapters (frozen base weights, adapters refreshed before the forward)', async () => {
    const s = await native().Session.create({ model: 'resnet18', numClasses: 3, device: 'cpu', seed: 1 });
    const input = randomInput(2, SIZE, SIZE, 41);
    const plain = await s.layerCam(input, { n: 2, size: SIZE });
    await s.applyLora({ groups: ['layer3', 'layer4'], rank: 4 });
    // Fresh adapters change nothing (B = 0), so the maps stay the same.
    const adapted = await s.layerCam(input, { n: 2, size: SIZE });
    expect(maxAbsDiff(adapted.maps, plain.maps)).toBeLessThan(1e-6);
  });

  it('ViT-B/16: the middle groups give maps, the last group none (only the class token reaches the head)', async () => {
    const vit = await native().Session.create({ model: 'vit_b_16', numClasses: 2, device: 'cpu', seed: 1 });
    // torchvision zero-initialises the head (every gradient would be zero): one Adam step
    // on two images makes it non-zero.
    vit.configureOptimizer({ lr: 1e-3 });
    const set = await imagesAt(224);
    const two = Int32Array.from([labels[0], labels[3]]);
    const sub = await native().ImageSet.build([files[0], files[3]], 224);
    await vit.trainEpoch(sub, two, { batchSize: 2, seed: 1 });
    const r = await vit.layerCamImages(set, [0, 1, 2, 3], { layers: ['layers3-5', 'layers6-8', 'layers9-11'] });
    expectValidMaps(r, 4, 3, 224, 'vit_b_16');
    const maxima = (j: number) => [0, 1, 2, 3].map((i) => mapRange(r, i, j)[1]);
    // Values against PyTorch: test/parity/layercam.test.ts.
    expect(Math.max(...maxima(0))).toBeCloseTo(1, 6);
    expect(Math.max(...maxima(1))).toBeCloseTo(1, 6);
    expect(maxima(2)).toEqual([0, 0, 0, 0]);
  });

  // Small inputs where the model allows them (inception_v3: 139 leaves Mixed_7 at 3x3);
  // ViT-B/16 and MaxViT-T take only 224.
  const SMALL: Record<string, number> = { inception_v3: 139, vit_b_16: 224, maxvit_t: 224 };
  for (const m of native().models()) {
    const size = SMALL[m.name] ?? SIZE;
    const n = size === 224 ? 1 : 2;
    it(`${m.name}: maps for its default layers (${m.camLayers.join(', ')}) at ${size}px`, async () => {
      const s = await native().Session.create({ model: m.name, numClasses: 3, device: 'cpu', seed: 2 });
      const info = s.info();
      expect(info.camLayers).toEqual(m.camLayers);
      // Every tappable layer is a group, and the head group is not tappable.
      const groups = m.groups.map((g) => g.name);
      for (const l of info.camLayerChoices) expect(groups).toContain(l);
      expect(info.camLayerChoices).not.toContain(groups[0]);
      for (const l of m.camLayers) expect(info.camLayerChoices).toContain(l);
      const r = await s.layerCam(randomInput(n, size, size, 4), { n, size, fusion: 'mean' });
      expectValidMaps(r, n, m.camLayers.length, size, m.name);
      expect(r.fused!.length).toBe(n * size * size);
      // Each map spans [0, 1] or is all zeros (no pixel with positive evidence: it happens
      // at random init, e.g. maxvit_t's blocks.3 on noise, as in PyTorch). vit_b_16's head
      // is zero-initialised, so all its maps are zero; every other model shows something.
      let shown = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < m.camLayers.length; j++) {
          const [lo, hi] = mapRange(r, i, j);
          expect(lo, `${m.name} ${m.camLayers[j]}`).toBe(0);
          if (hi > 0) {
            expect(hi, `${m.name} ${m.camLayers[j]}`).toBeCloseTo(1, 5);
            shown++;
          }
        }
      if (m.name !== 'vit_b_16') expect(shown, m.name).toBeGreaterThan(0);
      // Every other tappable layer works too.
      const rest = info.camLayerChoices.filter((l) => !m.camLayers.includes(l));
      if (rest.length) expectValidMaps(await s.layerCam(randomInput(n, size, size, 4), { n, size, layers: rest }), n, rest.length, size, `${m.name} ${rest.join(',')}`);
    });
  }

  it('does not grow memory over many calls (resnet18, 64 px, batch 1)', async () => {
    const s = await native().Session.create({ model: 'resnet18', numClasses: 3, device: 'cpu', seed: 1 });
    const input = randomInput(1, SIZE, SIZE, 33);
    for (let i = 0; i < 50; i++) await s.layerCam(input, { n: 1, size: SIZE });
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const CALLS = 1000;
    for (let i = 0; i < CALLS; i++) await s.layerCam(input, { n: 1, size: SIZE, fusion: 'max' });
    const ms = performance.now() - t0;
    (globalThis as { gc?: () => void }).gc?.();
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    console.log(`LayerCAM resnet18 ${SIZE}px batch 1: ${(ms / CALLS).toFixed(1)} ms per call, RSS ${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MB over ${CALLS} calls`);
    expect(grown).toBeLessThan(64);
  });
});
