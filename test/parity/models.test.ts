// Every registry model against torchvision: torchvision-saved OrderedDict files load
// unchanged, state_dict keys come in torchvision's order, eval-mode logits at the model's
// input size agree within 1e-4, parameter counts are torchvision's. Fixtures are generated once per model into .cache/fixtures.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { bound, TEST_DEVICE } from '../helpers/device.js';
import { fixtureDir, maxAbsDiff, oracleSkip, pythonOracleMissing, readFloat32 } from '../helpers/python.js';

const skip = oracleSkip('parity tests (install python3-torchvision)', pythonOracleMissing());

/** torchvision's parameter counts with the 1000-class head (the paper's 11 models). */
const TORCHVISION_PARAMS: Record<string, number> = {
  resnet18: 11_689_512,
  resnet50: 25_557_032,
  mobilenet_v2: 3_504_872,
  inception_v3: 27_161_264,
  densenet121: 7_978_856,
  densenet169: 14_149_480,
  vgg19: 143_667_240,
  vit_b_16: 86_567_656,
  efficientnet_v2_s: 21_458_488,
  swin_v2_t: 28_351_570,
  maxvit_t: 30_919_624,
};

const TOLERANCE = bound(1e-4);

function fixture(name: string, size: number): Promise<string> {
  return fixtureDir('make_parity.py', [`${name}:${size}`], `${name}.logits.bin`);
}

describe.skipIf(skip)('parity with torchvision', () => {
  const registry = native().models();

  it('the registry holds the 11 models with torchvision parameter counts', () => {
    const counts = Object.fromEntries(registry.map((m) => [m.name, m.params]));
    expect(counts).toEqual(TORCHVISION_PARAMS);
  });

  for (const info of registry) {
    it(`${info.name}: loads torchvision's state_dict file and matches its logits within ${TOLERANCE}`, async () => {
      native().setThreads(0);
      const dir = await fixture(info.name, info.inputSize);
      const meta = JSON.parse(readFileSync(join(dir, `${info.name}.json`), 'utf8')) as { params: number; size: number; keys: string[] };
      const session = await native().Session.create({ model: info.name, numClasses: 1000, weights: join(dir, `${info.name}.pth`), device: TEST_DEVICE });
      expect(session.info().params).toBe(meta.params);
      expect(session.stateKeys().map((k) => k.name)).toEqual(meta.keys); // names and torchvision's order
      expect(meta.params).toBe(TORCHVISION_PARAMS[info.name]);
      const input = readFloat32(join(dir, `${info.name}.input.bin`));
      const expected = readFloat32(join(dir, `${info.name}.logits.bin`));
      const out = await session.predict(input, [2, 3, meta.size, meta.size]);
      expect(out.shape).toEqual([2, 1000]);
      const diff = maxAbsDiff(out.data, expected);
      console.log(`${info.name} parity max abs diff ${diff.toExponential(3)}`);
      expect(diff).toBeLessThan(TOLERANCE);
    });
  }

  it("densenet121: torchvision's published key names (denselayerN.norm.1) load too", async () => {
    const dir = await fixture('densenet121', 224);
    const legacy = (await native().readWeights(join(dir, 'densenet121.pth')))
      .filter((e) => !e.name.endsWith('num_batches_tracked')) // the published files predate it
      .map((e) => ({ name: e.name.replace(/(denselayer\d+\.(?:norm|relu|conv))([12])\./, '$1.$2.'), shape: e.shape, data: e.data, dtype: e.dtype === 'int64' ? ('int64' as const) : ('float32' as const) }));
    expect(legacy.some((e) => e.name.includes('.norm.1.'))).toBe(true);
    const file = join(dir, 'densenet121-legacy.safetensors');
    await native().writeSafetensors(file, legacy);
    const session = await native().Session.create({ model: 'densenet121', numClasses: 1000, weights: file, device: TEST_DEVICE });
    const out = await session.predict(readFloat32(join(dir, 'densenet121.input.bin')), [2, 3, 224, 224]);
    expect(maxAbsDiff(out.data, readFloat32(join(dir, 'densenet121.logits.bin')))).toBeLessThan(TOLERANCE);
  });

  it('a 2-class session skips the 1000-class head on purpose and reports it', async () => {
    const dir = await fixture('resnet18', 224);
    const two = await native().Session.create({ model: 'resnet18', numClasses: 2, device: TEST_DEVICE });
    const r = await two.loadWeights(join(dir, 'resnet18.pth'));
    expect(r.skipped.sort()).toEqual(['fc.bias', 'fc.weight']);
  });

  it('loading resnet50 weights into resnet18 fails with the mismatched keys listed', async () => {
    const dir = await fixture('resnet50', 224);
    const p = native().Session.create({ model: 'resnet18', numClasses: 1000, weights: join(dir, 'resnet50.pth'), device: TEST_DEVICE });
    await expect(p).rejects.toThrow(/resnet50\.pth/);
    await expect(p).rejects.toThrow(/layer1\.0\.conv1\.weight/);
    await expect(p).rejects.toThrow(/unexpected|missing|shape/i);
  });
});
