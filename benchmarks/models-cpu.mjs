#!/usr/bin/env node
// Per-model training-step time: one forward + backward + Adam step on a batch of 8 at the
// model's registry input size, after one warm-up step. Prints JSON (one row per model).
//
//   node benchmarks/models-cpu.mjs [--models a,b] [--batch 8] [--threads 0] [--device cpu]
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { native, readImageFolder } = await import(join(root, 'dist', 'lib', 'api.js'));
const { writeVesselDataset } = await import(join(root, 'dist', 'lib', 'synth', 'write.js'));

const { values: o } = parseArgs({
  options: {
    models: { type: 'string', default: '' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '0' },
    device: { type: 'string', default: 'cpu' },
  },
});
const batch = Number(o.batch);
const threads = Number(o.threads) || cpus().length;
native().setThreads(threads);
const registry = native().models();
const wanted = o.models ? o.models.split(',') : registry.map((m) => m.name);

const data = join(mkdtempSync(join(tmpdir(), 'thtl-bench-')), 'data');
writeVesselDataset({ out: data, perClass: Math.ceil(batch / 2), size: 256, seed: 1 });
const items = readImageFolder(data).items.slice(0, batch);
const labels = Int32Array.from(items.map((i) => i.label));

const rows = [];
for (const name of wanted) {
  const info = registry.find((m) => m.name === name);
  if (!info) throw new Error(`unknown model ${name}`);
  const set = await native().ImageSet.build(items.map((i) => i.file), info.inputSize, { threads });
  const s = await native().Session.create({ model: name, numClasses: 2, device: o.device, seed: 0 });
  s.configureOptimizer({ lr: info.defaultLr });
  await s.trainEpoch(set, labels, { batchSize: batch, seed: 0 }); // warm-up
  const t = await s.trainEpoch(set, labels, { batchSize: batch, seed: 1 });
  const input = new Float32Array(batch * 3 * info.inputSize * info.inputSize);
  await s.predict(input, [batch, 3, info.inputSize, info.inputSize]);
  const t0 = performance.now();
  await s.predict(input, [batch, 3, info.inputSize, info.inputSize]);
  const fwd = (performance.now() - t0) / 1000;
  rows.push({ model: name, input: info.inputSize, params: info.params, train_step_seconds: +t.seconds.toFixed(3), eval_forward_seconds: +fwd.toFixed(3) });
  process.stderr.write(`${name}: train step ${t.seconds.toFixed(2)}s, eval forward ${fwd.toFixed(2)}s\n`);
}
console.log(JSON.stringify({ benchmark: 'models-cpu', batch, threads, device: o.device, rows }, null, 2));
