// GPU paths: run where LibTorch sees a CUDA device (the GPU servers), skipped visibly here.
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { vesselFolder } from '../helpers/images.js';

const cuda = native().info().cudaAvailable;
if (!cuda) console.warn('SKIPPED GPU tests: LibTorch sees no CUDA device on this machine');

describe.skipIf(!cuda)('CUDA', () => {
  it('a training epoch and evaluation on cuda match the CPU within float tolerance', async () => {
    const ds = readImageFolder(vesselFolder(8, 48));
    const images = await native().ImageSet.build(ds.items.map((i) => i.file), 32);
    const labels = Int32Array.from(ds.items.map((i) => i.label));
    const run = async (device: string) => {
      const s = await native().Session.create({ model: 'resnet18', numClasses: 2, device, seed: 3 });
      s.configureOptimizer({ lr: 1e-4 });
      s.setFrozenBatchNorm('train');
      const before = await s.evaluate(images, labels, { batchSize: 16 });
      const t = await s.trainEpoch(images, labels, { batchSize: 8, seed: 9 });
      return { before, t, info: s.info() };
    };
    const cpu = await run('cpu');
    const gpu = await run('cuda');
    expect(gpu.info.device).toMatch(/^cuda/);
    // Same weights, same batches, same flips: evaluation agrees closely; one epoch of
    // training agrees loosely (cuDNN's convolution algorithms differ from the CPU's).
    for (let i = 0; i < cpu.before.probs.length; i++) expect(gpu.before.probs[i]).toBeCloseTo(cpu.before.probs[i], 3);
    expect(gpu.t.loss).toBeCloseTo(cpu.t.loss, 2);
  });
});
