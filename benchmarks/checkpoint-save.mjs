// Time of Session.saveCheckpoint (model, fresh Adam state, checksum trailer, fsync):
// 5 saves, prints the median and the range. Compare two builds by pointing THTL_ADDON at
// each, alternating:
//   THTL_ADDON=build/Release/thtl_native.node node benchmarks/checkpoint-save.mjs vgg19
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { native } = await import(join(import.meta.dirname, '..', 'dist', 'binding', 'index.js'));
const model = process.argv[2] ?? 'resnet50';
const s = await native().Session.create({ model, numClasses: 2, device: 'cpu', seed: 1 });
s.configureOptimizer({ lr: 1e-3 });
const dir = mkdtempSync(join(tmpdir(), 'thtl-ckpt-'));
const times = [];
for (let i = 0; i < 5; i++) {
  const t0 = process.hrtime.bigint();
  await s.saveCheckpoint(join(dir, 'a.ckpt'), '{}');
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
const mib = statSync(join(dir, 'a.ckpt')).size / 2 ** 20;
console.log(`${process.env.THTL_ADDON ?? 'addon'} ${model} ${mib.toFixed(0)} MiB: save median ${times[2].toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times[4].toFixed(0)})`);
await s.dispose();
rmSync(dir, { recursive: true, force: true });
