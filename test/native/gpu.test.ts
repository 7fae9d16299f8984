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

describe.skipIf(!cuda)('CUDA batches, random streams and cuDNN', () => {
  it('a batch normalised on the GPU equals the CPU batch bit for bit (registry mean/std, flips)', async () => {
    const { testHooks } = await import('../helpers/hooks.js');
    const hooks = testHooks();
    if (!hooks) return;
    for (const o of [{}, { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.25, 0.5, 0.125] as [number, number, number] }]) {
      const r = hooks._testNormalise({ count: 8, size: 16, seed: 7, device: 'cuda', ...o });
      const a = new Uint32Array(r.host.buffer), b = new Uint32Array(r.device.buffer);
      let differ = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
      expect(differ).toBe(0);
    }
  });

  it("resuming from a checkpoint continues the session's CUDA random stream (dropout on the GPU)", async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const ds = readImageFolder(vesselFolder(8, 48));
    const images = await native().ImageSet.build(ds.items.map((i) => i.file), 32);
    const labels = Int32Array.from(ds.items.map((i) => i.label));
    const dir = mkdtempSync(join(tmpdir(), 'thtl-gpu-ckpt-'));
    // mobilenet_v2's classifier has dropout (p = 0.2): its masks come from the CUDA stream
    const make = (seed: number) => native().Session.create({ model: 'mobilenet_v2', numClasses: 2, device: 'cuda', seed, cudnnBenchmark: false });
    const a = await make(5);
    a.configureOptimizer({ lr: 1e-3 });
    await a.trainEpoch(images, labels, { batchSize: 8, seed: 1 });
    await a.saveCheckpoint(join(dir, 'c.ckpt'), '{}');
    const next = await a.trainEpoch(images, labels, { batchSize: 8, seed: 2 });
    const b = await make(77);
    b.configureOptimizer({ lr: 1e-3 });
    await b.loadCheckpoint(join(dir, 'c.ckpt'));
    const resumed = await b.trainEpoch(images, labels, { batchSize: 8, seed: 2 });
    expect(resumed.loss).toBeCloseTo(next.loss, 5);
  });
});
