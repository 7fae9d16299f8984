#!/usr/bin/env node
// LayerCAM time: one layerCam call (forward + backward for the batch, maps for every
// layer) against an eval forward (predict) of the same batch, after a warm-up call.
// Prints JSON.
//
//   node benchmarks/layercam-cpu.mjs [--model resnet50] [--batch 8] [--layers layer1,layer2,layer3,layer4]
//                                    [--repeats 3] [--threads 0] [--device cpu]
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { native } = await import(join(root, 'dist', 'lib', 'api.js'));

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    batch: { type: 'string', default: '8' },
    layers: { type: 'string', default: '' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
    device: { type: 'string', default: 'cpu' },
  },
});
const batch = Number(o.batch);
const repeats = Number(o.repeats);
const threads = Number(o.threads) || cpus().length;
native().setThreads(threads);
const info = native().models().find((m) => m.name === o.model);
if (!info) throw new Error(`unknown model ${o.model}`);
const layers = o.layers ? o.layers.split(',') : info.camLayers;
const size = info.inputSize;
const s = await native().Session.create({ model: o.model, numClasses: 1000, device: o.device, seed: 0 });
const input = new Float32Array(batch * 3 * size * size);
for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.001) * 2;

async function best(fn) {
  await fn(); // warm-up
  let t = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await fn();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}
const forward = await best(() => s.predict(input, [batch, 3, size, size]));
const cam = await best(() => s.layerCam(input, { n: batch, size, layers, fusion: 'max' }));
const row = {
  benchmark: 'layercam-cpu', model: o.model, input: size, batch, layers, threads, device: o.device,
  layercam_call_seconds: +cam.toFixed(3),
  eval_forward_seconds: +forward.toFixed(3),
  ms_per_image: +((cam / batch) * 1000).toFixed(1),
  ms_per_image_per_layer: +((cam / batch / layers.length) * 1000).toFixed(1),
};
console.log(JSON.stringify(row, null, 2));
