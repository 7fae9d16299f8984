#!/usr/bin/env node
// Training-epoch benchmark: thtl-native vs the PyTorch reference on the same JPEG files,
// model, batch size, input size and thread count. Prints one JSON object.
//
//   node benchmarks/train-epoch.mjs [--model resnet18] [--images 256] [--size 128]
//        [--batch 32] [--epochs 3] [--threads 0] [--python /usr/bin/python3]
//
// Native: decode once into the cache, then epochs from the cache (the tool's design).
// Reference: torchvision ImageFolder + PIL + DataLoader, decoding every epoch.
// The first epoch of each is a warm-up and is excluded from the steady-state figure.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const api = await import(join(root, 'dist', 'lib', 'api.js'));
const { native, readImageFolder } = api;
const { writeVesselDataset } = await import(join(root, 'dist', 'lib', 'synth', 'write.js'));

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18' },
    images: { type: 'string', default: '256' },
    size: { type: 'string', default: '128' },
    'image-size': { type: 'string', default: '256' },
    batch: { type: 'string', default: '32' },
    epochs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
    device: { type: 'string', default: 'cpu' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const n = Number(o.images), size = Number(o.size), batch = Number(o.batch), epochs = Number(o.epochs);
const threads = Number(o.threads) || cpus().length;

const data = join(mkdtempSync(join(tmpdir(), 'thtl-bench-')), 'data');
writeVesselDataset({ out: data, perClass: Math.ceil(n / 2), size: Number(o['image-size']), seed: 1 });
const ds = readImageFolder(data);

native().setThreads(threads);
let t0 = performance.now();
const set = await native().ImageSet.build(ds.items.map((i) => i.file), size, { threads });
const decodeSeconds = (performance.now() - t0) / 1000;
const labels = Int32Array.from(ds.items.map((i) => i.label));
const session = await native().Session.create({ model: o.model, numClasses: ds.classes.length, device: o.device, seed: 0 });
session.configureOptimizer({ lr: 1e-3 });
const nativeEpochs = [];
for (let e = 0; e < epochs; e++) {
  t0 = performance.now();
  await session.trainEpoch(set, labels, { batchSize: batch, seed: e });
  nativeEpochs.push((performance.now() - t0) / 1000);
}

const ref = JSON.parse(
  execFileSync(o.python, [join(root, 'benchmarks', 'train_reference.py'), data, o.model, String(size), String(batch), String(epochs), String(threads), String(threads)], {
    encoding: 'utf8',
  }).trim().split('\n').pop(),
);
const steady = (xs) => (xs.length > 1 ? xs.slice(1) : xs).reduce((a, b) => a + b, 0) / Math.max(xs.length - 1, 1);
const nativeSteady = steady(nativeEpochs);
const refSteady = steady(ref.epoch_seconds);
console.log(
  JSON.stringify(
    {
      benchmark: 'train-epoch',
      model: o.model,
      images: ds.items.length,
      input_size: size,
      batch,
      threads,
      device: o.device,
      native: { decode_cache_seconds: decodeSeconds, epoch_seconds: nativeEpochs, images_per_second: ds.items.length / nativeSteady },
      reference: { torch: ref.torch, epoch_seconds: ref.epoch_seconds, compute_only_seconds: ref.compute_seconds, images_per_second: ds.items.length / refSteady },
      speedup_steady_epoch: refSteady / nativeSteady,
    },
    null,
    2,
  ),
);
