#!/usr/bin/env node
// Decode-cache benchmark: thtl-native's disk cache vs the PyTorch data path on the same
// large JPEGs. Prints one JSON object.
//
//   node benchmarks/decode-cache.mjs [--n 1000] [--width 2048] [--height 1536] [--size 224]
//        [--threads 0] [--batch 32] [--epochs 3] [--data DIR] [--cache-dir DIR]
//        [--python /usr/bin/python3] [--dist DIR]
//
// (a) cache build: decode + resize every file into a fresh disk cache (all cores), images/s;
// (b) reference: torchvision ImageFolder + PIL + Resize + ToTensor + Normalize through a
//     DataLoader with `threads` workers, one pass in file order, images/s;
// (c) a data-only epoch: from the cache, shuffled batches of `batch` with random flips and
//     normalisation (ImageSet.batch, the Session's makeBatch path), vs the reference's
//     training-style epoch (shuffled, RandomHorizontalFlip, decoding every file again).
// The JPEGs are written once by decode_reference.py into --data (default under the temp
// folder) and reused by later runs. THTL_ADDON selects a development build of the addon;
// --dist a compiled TypeScript output other than dist/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values: o } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    width: { type: 'string', default: '2048' },
    height: { type: 'string', default: '1536' },
    quality: { type: 'string', default: '90' },
    size: { type: 'string', default: '224' },
    threads: { type: 'string', default: '0' },
    batch: { type: 'string', default: '32' },
    epochs: { type: 'string', default: '3' },
    data: { type: 'string' },
    'cache-dir': { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    dist: { type: 'string', default: join(root, 'dist') },
  },
});
const n = Number(o.n), size = Number(o.size), batch = Number(o.batch), epochs = Number(o.epochs);
const threads = Number(o.threads) || cpus().length;
const { native } = await import(pathToFileURL(resolve(o.dist, 'binding', 'index.js')).href);
const script = join(root, 'benchmarks', 'decode_reference.py');
const log = (msg) => process.stderr.write(`${msg}\n`);

// ---- the data: n JPEGs as an ImageFolder (a/, b/), written once ----
const data = o.data ?? join(tmpdir(), `thtl-decode-bench-${n}-${o.width}x${o.height}-q${o.quality}`);
const listFiles = () =>
  existsSync(data)
    ? ['a', 'b'].flatMap((c) => (existsSync(join(data, c)) ? readdirSync(join(data, c)).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(data, c, f)) : []))
    : [];
if (listFiles().length < n) {
  log(`writing ${n} ${o.width}x${o.height} JPEGs into ${data} (once) ...`);
  execFileSync(o.python, [script, 'generate', '--out', data, '--n', String(n), '--width', o.width, '--height', o.height, '--quality', o.quality], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const files = listFiles();
if (files.length !== n) throw new Error(`${data} holds ${files.length} JPEGs, expected ${n}: remove it or pass --n ${files.length}`);

// ---- (a) native cache build ----
const cacheDir = o['cache-dir'] ?? mkdtempSync(join(tmpdir(), 'thtl-decode-bench-cache-'));
for (const f of existsSync(cacheDir) ? readdirSync(cacheDir) : []) if (/^[0-9a-f]{16}-\d+px\./.test(f)) rmSync(join(cacheDir, f));
log(`native: building the ${size}px cache on ${threads} threads ...`);
let t0 = performance.now();
const set = await native().ImageSet.build(files, size, { threads, cacheDir });
const buildSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
const reopened = await native().ImageSet.build(files, size, { threads, cacheDir });
const reopenSeconds = (performance.now() - t0) / 1000;
if (reopened.stats().decoded !== 0) throw new Error('the second build decoded images: the cache was not reused');

// ---- (c, native) data-only epochs from the cache ----
native().setThreads(threads);
function shuffled(count, seed) {
  const idx = Array.from({ length: count }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = count - 1; i > 0; i--) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const j = s % (i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}
const epochSeconds = [];
let checksum = 0;
for (let e = 0; e < epochs; e++) {
  const order = shuffled(n, e + 1);
  t0 = performance.now();
  for (let b = 0; b < n; b += batch) {
    const x = reopened.batch(order.slice(b, b + batch), true, e * 100003 + b);
    checksum += x[0];
  }
  epochSeconds.push((performance.now() - t0) / 1000);
}
const epochBest = Math.min(...epochSeconds);
const epochMean = epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length;

// ---- (b, c reference) PyTorch ----
log(`reference: torchvision ImageFolder + PIL + DataLoader(num_workers=${threads}) ...`);
const ref = JSON.parse(
  execFileSync(o.python, [script, 'run', '--data', data, '--size', String(size), '--workers', String(threads), '--batch', String(batch)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop(),
);
if (!o['cache-dir']) rmSync(cacheDir, { recursive: true, force: true });

const r2 = (x) => Math.round(x * 100) / 100;
const buildRate = n / buildSeconds;
const epochRate = n / epochMean;
const result = {
  images: n,
  source: `${o.width}x${o.height} JPEG q${o.quality}`,
  size,
  threads,
  cores: cpus().length,
  native: {
    cache_build_seconds: r2(buildSeconds),
    cache_build_images_per_s: r2(buildRate),
    cache_reopen_seconds: r2(reopenSeconds),
    epoch_seconds: epochSeconds.map(r2),
    epoch_images_per_s: r2(epochRate),
    epoch_best_images_per_s: r2(n / epochBest),
  },
  reference: ref,
  ratios: {
    cache_build_vs_reference_decode: r2(buildRate / ref.decode_images_per_s),
    cached_epoch_vs_reference_epoch: r2(epochRate / ref.epoch_images_per_s),
  },
  targets: {
    cache_build_at_least_2x: buildRate / ref.decode_images_per_s >= 2,
    cached_epoch_at_least_20x: epochRate / ref.epoch_images_per_s >= 20,
  },
  checksum: Number.isFinite(checksum),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
