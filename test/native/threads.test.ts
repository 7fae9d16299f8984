// Only the addon's compute thread runs LibTorch's parallel regions. A thread that runs an
// op big enough to parallelise gets an OpenMP thread team of its own, kept for its life;
// with more OpenMP threads than cores, libgomp stops spin-waiting and every parallel
// region of a training step pays for waking sleeping workers (measured: densenet169 on
// 2 threads, 1.3x PyTorch's step time). The check runs in a child process, where the
// thread count is the addon's alone: after a first epoch has started every thread the
// process needs, image decoding, synchronous batch building, head replacement, LoRA,
// weight files and more epochs must not add a single thread.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { readImageFolder } from '../../lib/data/imagefolder.js';
import { runProcess } from '../helpers/process.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const ROOT = join(import.meta.dirname, '..', '..');
const canCount = (() => {
  try {
    return readdirSync('/proc/self/task').length > 0;
  } catch {
    return false;
  }
})();

const SCRIPT = `
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
const { native } = await import(process.env.BINDING);
const tasks = () => readdirSync('/proc/self/task').length;
const files = JSON.parse(process.env.FILES);
const labels = Int32Array.from(files.map((_, i) => i % 2));
native().setThreads(2);
const small = await native().ImageSet.build(files, 32, { threads: 2 });
const s = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu', seed: 1 });
s.configureOptimizer({ lr: 1e-3 });
await s.trainEpoch(small, labels, { batchSize: 4, seed: 0 });
const before = tasks();
// a set big enough that zero-filling or normalising it would run a parallel region
const big = await native().ImageSet.build(files, 192, { threads: 2 });
big.batch([0, 1, 2, 3, 4, 5, 6, 7], true, 3);
small.batch([0, 1], false, 0);
await s.replaceHead(3);
await s.replaceHead(2);
const w = join(process.env.OUT, 'w.safetensors');
await s.saveWeights(w);
await native().readWeights(w);
await s.applyLora({ groups: ['layer4'], rank: 4, alpha: 8 });
await s.trainEpoch(small, labels, { batchSize: 4, seed: 1 });
await s.mergeLora();
await s.evaluate(big, labels, { batchSize: 8 });
// channels_last: its parameters are not contiguous, so anything that copies the state
// on the JS thread (the facts a session publishes after each call) would start a team there
const cl = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu', seed: 1, channelsLast: true });
cl.configureOptimizer({ lr: 1e-3 });
cl.info();
cl.stateKeys();
await cl.trainEpoch(small, labels, { batchSize: 4, seed: 0 });
process.stdout.write(JSON.stringify({ before, after: tasks() }));
`;

describe('threads', () => {
  it.skipIf(!canCount)('no thread but the compute thread starts LibTorch thread teams', async () => {
    const files = readImageFolder(vesselFolder(4, 200)).items.map((i) => i.file);
    const r = await runProcess(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, BINDING: join(ROOT, 'dist', 'binding', 'index.js'), FILES: JSON.stringify(files), OUT: tempDir('threads') },
    });
    expect(r.code, r.stderr).toBe(0);
    const { before, after } = JSON.parse(r.stdout) as { before: number; after: number };
    expect(after).toBe(before);
  });
});
