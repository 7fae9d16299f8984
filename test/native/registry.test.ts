// Every registry model: groups partition the parameters, the head group holds the head,
// head replacement, head-only freezing, and one real training epoch at the model's own
// input size (train-mode paths: dropout, stochastic depth, auxiliary heads).
import { describe, expect, it, beforeAll } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { vesselFolder } from '../helpers/images.js';

const registry = native().models();
let files: string[] = [];
const sets = new Map<number, ImageSet>();

async function imagesAt(size: number): Promise<ImageSet> {
  if (!sets.has(size)) sets.set(size, await native().ImageSet.build(files, size));
  return sets.get(size)!;
}

beforeAll(() => {
  native().setThreads(0);
  files = readImageFolder(vesselFolder(2, 64)).items.map((i) => i.file);
});

describe('model registry', () => {
  it('every row has an input size, a learning rate, groups and LayerCAM layers', () => {
    for (const m of registry) {
      expect(m.inputSize, m.name).toBeGreaterThanOrEqual(224);
      expect([1e-3, 1e-4], m.name).toContain(m.defaultLr);
      expect(m.groups.length, m.name).toBeGreaterThanOrEqual(3);
      expect(m.headPrefixes.length, m.name).toBeGreaterThanOrEqual(1);
      const groupNames = m.groups.map((g) => g.name);
      for (const layer of m.camLayers) expect(groupNames, `${m.name} camLayer ${layer}`).toContain(layer);
    }
  });

  for (const m of registry) {
    it(`${m.name}: groups cover every parameter exactly once and the first group is the head`, async () => {
      const s = await native().Session.create({ model: m.name, numClasses: 2, device: 'cpu', seed: 1 });
      const keys = s.stateKeys();
      const owners = (name: string) => m.groups.filter((g) => g.prefixes.some((p) => name.startsWith(p))).map((g) => g.name);
      for (const k of keys.filter((k) => k.parameter)) expect(owners(k.name), k.name).toHaveLength(1);
      for (const head of m.headPrefixes) expect(m.groups[0].prefixes.some((p) => head.startsWith(p)), head).toBe(true);

      s.setTrainableGroups([m.groups[0].name]);
      const headKeys = keys.filter((k) => k.parameter && m.groups[0].prefixes.some((p) => k.name.startsWith(p)));
      const headParams = headKeys.reduce((a, k) => a + k.shape.reduce((x, y) => x * y, 1), 0);
      expect(s.info().trainableParams).toBe(headParams);
      expect(s.stateKeys().filter((k) => k.trainable).map((k) => k.name)).toEqual(headKeys.map((k) => k.name));
    });

    it(`${m.name}: head replacement and one training epoch at ${m.inputSize}px`, async () => {
      const s = await native().Session.create({ model: m.name, numClasses: 5, device: 'cpu', seed: 2 });
      await s.replaceHead(2);
      expect(s.info().numClasses).toBe(2);
      s.configureOptimizer({ lr: m.defaultLr });
      const images = await imagesAt(m.inputSize);
      const stats = await s.trainEpoch(images, Int32Array.from([0, 0, 1, 1]), { batchSize: 2, seed: 1 });
      expect(stats.samples).toBe(4);
      expect(Number.isFinite(stats.loss)).toBe(true);
      const r = await s.evaluate(images, Int32Array.from([0, 0, 1, 1]), { batchSize: 4 });
      expect(r.probs.length).toBe(8);
    });
  }
});
