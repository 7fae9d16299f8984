// ResNet-18/50 against torchvision: torchvision-saved OrderedDict files load unchanged,
// eval-mode logits agree within 1e-4, parameter counts are equal.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { cachedFixture, maxAbsDiff, pythonOracleMissing, readFloat32 } from '../helpers/python.js';

const missing = pythonOracleMissing();
if (missing) console.warn(`SKIPPED parity tests: ${missing} (install python3-torchvision)`);

const MODELS: Array<[string, number]> = [
  ['resnet18', 11_689_512],
  ['resnet50', 25_557_032],
];

describe.skipIf(missing !== '')('parity with torchvision', () => {
  let dir = '';
  beforeAll(() => {
    native().setThreads(0);
    dir = cachedFixture('make_parity.py', MODELS.map(([m]) => m), `${MODELS[MODELS.length - 1][0]}.logits.bin`);
  });

  for (const [name, params] of MODELS) {
    it(`${name}: loads torchvision's state_dict file and matches its logits within 1e-4`, async () => {
      const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { params: number; size: number };
      const session = await native().Session.create({ model: name, numClasses: 1000, weights: join(dir, `${name}.pth`), device: 'cpu' });
      expect(session.info().params).toBe(params);
      expect(meta.params).toBe(params);
      const input = readFloat32(join(dir, `${name}.input.bin`));
      const expected = readFloat32(join(dir, `${name}.logits.bin`));
      const out = await session.predict(input, [2, 3, meta.size, meta.size]);
      expect(out.shape).toEqual([2, 1000]);
      const diff = maxAbsDiff(out.data, expected);
      console.log(`${name} parity max abs diff ${diff.toExponential(3)}`);
      expect(diff).toBeLessThan(1e-4);
    });
  }

  it('registry parameter counts equal torchvision', () => {
    const table = native().models();
    for (const [name, params] of MODELS) expect(table.find((m) => m.name === name)?.params).toBe(params);
  });

  it('a 2-class session skips the 1000-class head on purpose and reports it', async () => {
    const session = await native().Session.create({ model: 'resnet18', numClasses: 1000, device: 'cpu' });
    const r = await session.loadWeights(join(dir, 'resnet18.pth'));
    expect(r.skipped).toEqual([]);
    const two = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu' });
    const r2 = await two.loadWeights(join(dir, 'resnet18.pth'));
    expect(r2.skipped.sort()).toEqual(['fc.bias', 'fc.weight']);
  });

  it('loading resnet50 weights into resnet18 fails with the mismatched keys listed', async () => {
    const p = native().Session.create({ model: 'resnet18', numClasses: 1000, weights: join(dir, 'resnet50.pth'), device: 'cpu' });
    await expect(p).rejects.toThrow(/resnet50\.pth/);
    await expect(p).rejects.toThrow(/layer1\.0\.conv1\.weight/);
    await expect(p).rejects.toThrow(/unexpected|missing|shape/i);
  });
});
