// LayerCAM against a Python reference (torchvision forward hooks + torch.autograd.grad,
// test/fixtures/make_layercam.py) on the parity fixtures' models and inputs: resnet50
// (layer1..layer4), densenet121, vit_b_16 and maxvit_t (their default camLayers), for each
// image's predicted class and for given classes. Maps agree within 1e-5 (max abs difference).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { bound, TEST_DEVICE } from '../helpers/device.js';
import { fixtureDir, maxAbsDiff, oracleSkip, pythonOracleMissing, readFloat32 } from '../helpers/python.js';

const skip = oracleSkip('LayerCAM parity tests (install python3-torchvision)', pythonOracleMissing());

const TOLERANCE = bound(1e-5);
const GIVEN = [7, 511];

interface CamMeta {
  layers: string[];
  size: number;
  n: number;
  predicted: number[];
  given: number[];
  predicted_probs: number[];
}

async function fixtures(model: string, layers: string[]): Promise<{ parity: string; cam: string }> {
  const parity = await fixtureDir('make_parity.py', [`${model}:224`], `${model}.logits.bin`);
  const cam = await fixtureDir('make_layercam.py', [parity, model, layers.join(','), GIVEN.join(',')], `${model}.given.maps.bin`);
  return { parity, cam };
}

describe.skipIf(skip)('LayerCAM parity with a PyTorch reference', () => {
  const registry = native().models();
  const cases: { model: string; layers: string[] }[] = [
    { model: 'resnet50', layers: ['layer1', 'layer2', 'layer3', 'layer4'] },
    { model: 'densenet121', layers: registry.find((m) => m.name === 'densenet121')!.camLayers },
    // Token maps (class token dropped, 14x14) and MaxViT's stages: their default layers.
    { model: 'vit_b_16', layers: registry.find((m) => m.name === 'vit_b_16')!.camLayers },
    { model: 'maxvit_t', layers: registry.find((m) => m.name === 'maxvit_t')!.camLayers },
  ];

  for (const { model, layers } of cases) {
    it(`${model}: maps of ${layers.join(', ')} match within ${TOLERANCE} (predicted and given classes)`, async () => {
      native().setThreads(0);
      const dir = await fixtures(model, layers);
      const meta = JSON.parse(readFileSync(join(dir.cam, `${model}.cam.json`), 'utf8')) as CamMeta;
      const session = await native().Session.create({ model, numClasses: 1000, weights: join(dir.parity, `${model}.pth`), device: TEST_DEVICE });
      const input = readFloat32(join(dir.parity, `${model}.input.bin`));

      const predicted = await session.layerCam(input, { n: meta.n, size: meta.size, layers });
      expect(predicted.layers).toEqual(layers);
      expect(Array.from(predicted.classes)).toEqual(meta.predicted);
      expect(maxAbsDiff(predicted.probs, meta.predicted_probs)).toBeLessThan(bound(1e-5));
      const expectedPredicted = readFloat32(join(dir.cam, `${model}.predicted.maps.bin`));
      const diffPredicted = maxAbsDiff(predicted.maps, expectedPredicted);

      const given = await session.layerCam(input, { n: meta.n, size: meta.size, layers, classes: Int32Array.from(GIVEN) });
      expect(Array.from(given.classes)).toEqual(GIVEN);
      const expectedGiven = readFloat32(join(dir.cam, `${model}.given.maps.bin`));
      const diffGiven = maxAbsDiff(given.maps, expectedGiven);

      // Per layer, so a failure names the layer.
      const per = meta.size * meta.size;
      const layerDiffs = layers.map((l, j) => {
        let m = 0;
        for (let i = 0; i < meta.n; i++) {
          const off = (i * layers.length + j) * per;
          m = Math.max(
            m,
            maxAbsDiff(predicted.maps.subarray(off, off + per), expectedPredicted.subarray(off, off + per)),
            maxAbsDiff(given.maps.subarray(off, off + per), expectedGiven.subarray(off, off + per)),
          );
        }
        return `${l} ${m.toExponential(2)}`;
      });
      console.log(`${model} LayerCAM max abs diff: predicted ${diffPredicted.toExponential(3)}, given ${diffGiven.toExponential(3)} (${layerDiffs.join(', ')})`);
      expect(diffPredicted).toBeLessThan(TOLERANCE);
      expect(diffGiven).toBeLessThan(TOLERANCE);
    });
  }
});
