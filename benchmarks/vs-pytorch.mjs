#!/usr/bin/env node
// Side by side, interleaved in one run: the training step (forward + backward + Adam, batch
// of 8 at the model's registry size) of thtl-native and of eager PyTorch on the same
// LibTorch, fp32 NCHW and fp32 channels_last, for each model and thread count. Each side
// is its own process (so peak memory is its own), kept alive across the repetitions, and
// the repetitions rotate the order of the sides, so the machine's load hits them alike.
//
//   node benchmarks/vs-pytorch.mjs [--models a,b] [--threads 1,2] [--reps 5] [--batch 8]
//        [--python /usr/bin/python3] [--json out.json] [--markdown out.md]
//
// THTL_ADDON and --python pick the pair (Debian's 1.13 by default; a pip venv and a build
// against it for 2.x). Ratios are native / PyTorch step time (min over repetitions): below
// 1.0 the native step is faster. The native side includes its uint8 -> float normalisation
// and random flip; the PyTorch side gets its input tensor ready-made.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values: o } = parseArgs({
  options: {
    models: { type: 'string', default: '' },
    threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '8' },
    python: { type: 'string', default: '/usr/bin/python3' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    worker: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
  },
});

const api = await import(join(root, 'dist', 'lib', 'api.js'));
const { native, readImageFolder } = api;

// ---- worker mode: the native side of one model ----
if (o.worker === 'native') {
  const threads = Number(o.threads);
  const batch = Number(o.batch);
  native().setThreads(threads);
  const info = native().models().find((m) => m.name === o.model);
  const items = readImageFolder(o.data).items.slice(0, batch);
  const labels = Int32Array.from(items.map((i) => i.label));
  const set = await native().ImageSet.build(items.map((i) => i.file), info.inputSize, { threads });
  const s = await native().Session.create({ model: o.model, numClasses: 2, device: 'cpu', seed: 0 });
  s.configureOptimizer({ lr: 1e-4 });
  await s.trainEpoch(set, labels, { batchSize: batch, seed: 0 });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  let seed = 1;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'step') {
      const t = await s.trainEpoch(set, labels, { batchSize: batch, seed: seed++ });
      process.stdout.write(`${JSON.stringify({ seconds: t.seconds })}\n`);
    } else if (line === 'end') {
      process.stdout.write(`${JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
      process.exit(0);
    }
  }
  process.exit(0);
}

// ---- driver ----
/** A worker process answering one JSON line per command. */
function worker(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} ended early`);
    return JSON.parse(r.value);
  };
  return {
    ready: next(),
    async ask(line) {
      child.stdin.write(`${line}\n`);
      return next();
    },
  };
}

const batch = Number(o.batch);
const reps = Number(o.reps);
const threadList = o.threads.split(',').map(Number);
const registry = native().models();
const models = o.models ? o.models.split(',') : registry.map((m) => m.name);
const data = join(mkdtempSync(join(tmpdir(), 'thtl-vs-')), 'data');
const { writeVesselDataset } = await import(join(root, 'dist', 'lib', 'synth', 'write.js'));
writeVesselDataset({ out: data, perClass: Math.ceil(batch / 2), size: 256, seed: 1 });
const files = readImageFolder(data).items.slice(0, batch).map((i) => i.file);
const info = native().info();

const min = (xs) => Math.min(...xs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const model of models) {
  const m = registry.find((r) => r.name === model);
  if (!m) throw new Error(`unknown model ${model}`);
  for (const threads of threadList) {
    const sides = {
      native: worker(process.execPath, [join(root, 'benchmarks', 'vs-pytorch.mjs'), '--worker', 'native', '--model', model, '--threads', String(threads), '--batch', String(batch), '--data', data]),
      eager: worker(o.python, [join(root, 'benchmarks', 'vs_pytorch.py'), model, String(m.inputSize), String(batch), String(threads), 'eager', ...files]),
      channels_last: worker(o.python, [join(root, 'benchmarks', 'vs_pytorch.py'), model, String(m.inputSize), String(batch), String(threads), 'channels_last', ...files]),
    };
    const names = Object.keys(sides);
    for (const n of names) await sides[n].ready;
    const times = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < reps; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const n of order) times[n].push((await sides[n].ask('step')).seconds);
    }
    const peak = {};
    for (const n of names) peak[n] = (await sides[n].ask('end')).maxRssMB;
    const row = {
      model, input: m.inputSize, threads,
      native_s: +min(times.native).toFixed(3), eager_s: +min(times.eager).toFixed(3), channels_last_s: +min(times.channels_last).toFixed(3),
      native_median_s: +median(times.native).toFixed(3), eager_median_s: +median(times.eager).toFixed(3),
      ratio_vs_eager: +(min(times.native) / min(times.eager)).toFixed(2),
      ratio_vs_channels_last: +(min(times.native) / min(times.channels_last)).toFixed(2),
      native_img_s: +(batch / min(times.native)).toFixed(2), eager_img_s: +(batch / min(times.eager)).toFixed(2),
      peak_rss_mb: Object.fromEntries(names.map((n) => [n, Math.round(peak[n])])),
    };
    rows.push(row);
    process.stderr.write(`${model} x${threads}: native ${row.native_s}s, eager ${row.eager_s}s, channels_last ${row.channels_last_s}s -> ${row.ratio_vs_eager}x / ${row.ratio_vs_channels_last}x\n`);
  }
}

const result = { benchmark: 'vs-pytorch', device: 'cpu', batch, reps, torch: info.runtimeTorchVersion || info.torchVersion, python: o.python, rows };
const md = [
  `LibTorch ${result.torch}, batch ${batch}, min of ${reps} interleaved steps; ratio = native / PyTorch step time (< 1: native faster)`,
  '',
  '| model | threads | native (s) | eager (s) | channels_last (s) | vs eager | vs channels_last | peak RSS MB native / eager |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.model} | ${r.threads} | ${r.native_s} | ${r.eager_s} | ${r.channels_last_s} | ${r.ratio_vs_eager} | ${r.ratio_vs_channels_last} | ${r.peak_rss_mb.native} / ${r.peak_rss_mb.eager} |`),
].join('\n');
if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
if (o.markdown) writeFileSync(o.markdown, `${md}\n`);
process.stdout.write(`${md}\n`);
