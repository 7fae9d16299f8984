#!/usr/bin/env node
// Side by side, interleaved in one run: the training step (forward + backward + Adam, batch
// of 8 at the model's registry size) of thtl-native and of PyTorch on the same LibTorch,
// for each model and thread count. Sides (--sides, comma-separated):
//   native          thtl-native fp32 as `train` runs it: its default memory format, which
//                   on a CPU with oneDNN is channels_last for the training steps of the
//                   convolutional models but vgg19 (NCHW for those and the transformers)
//   native_nchw     thtl-native fp32 with NCHW training steps (channelsLast: false)
//   native_cl       thtl-native --channels-last
//   native_amp_cl   thtl-native --precision bf16 --channels-last
//   native_malloc   thtl-native fp32 with LibTorch's own CPU allocator instead of the
//                   addon's caching one (THTL_CPU_ALLOCATOR=default; before/after checks)
//   native_fused    thtl-native fp32 with the fused batch-norm + activation kernels forced
//                   on (THTL_FUSED_BN=1; on by default where they thread, so `native` is
//                   the same in such a build)
//   native_unfused  thtl-native fp32 with them off (THTL_FUSED_BN=0): LibTorch's separate
//                   batch_norm, add and activation kernels (before/after checks)
//   native_amp_cl_fused, native_amp_cl_unfused  the same two for native_amp_cl
//   native_alt, native_amp_cl_alt  native and native_amp_cl with the addon at THTL_ADDON_ALT
//                   (another build, such as the commit before a change: before/after in
//                   one run, interleaved)
//   eager           PyTorch fp32 NCHW (the reference the ratios compare with)
//   channels_last   PyTorch fp32 channels_last
//   amp_cl          PyTorch channels_last + autocast bfloat16 (AMP)
//   compile         PyTorch fp32 NCHW with model = torch.compile(model) (default inductor
//                   backend; only the model is compiled, the optimizer step stays eager)
//   compile_amp_cl  amp_cl with the model compiled the same way
// The compile sides need torch.compile (a torch 2.x --python): on 1.x (Debian's 1.13)
// they stop at start with a one-line message naming the torch version, and the row lists
// them in `failed`.
//
// Compile time is reported apart from step time: every side reports the wall time of its
// first (warm-up) step, which for the compile sides includes compiling the forward and
// backward graphs (first_step_seconds in JSON, "first step s (compile)" in Markdown). The
// step times come after that step and the --warmup untimed ones (at least one for a
// compile side, so that nothing is left to compile when the timing starts). Interleaved,
// the sides take their first steps at the same time, so those overlap one another; with
// --one-at-a-time each is alone. Inductor caches what it compiled on disk
// (TORCHINDUCTOR_CACHE_DIR, by default under /tmp): a rerun finds it warm and its first
// step is then far shorter; point the variable at an empty folder for a cold compile.
//
// Each side is its own process (so peak memory is its own), kept alive across the
// repetitions, and the repetitions rotate the order of the sides, so the machine's load
// hits them alike. Interleaved, a native side waits while the others step; the addon hands
// its cached CPU memory back after 3 s idle, and would then fault it in again every step
// (measured: efficientnet_v2_s 3.71 s a step against 3.21 s), so the native workers run
// with THTL_CPU_RELEASE_S=600 unless it is set (PyTorch's jemalloc keeps freed memory 10 s).
//
//   node benchmarks/vs-pytorch.mjs [--models a,b] [--threads 1,2] [--reps 5] [--warmup 2] [--batch 8]
//        [--sides native,eager,channels_last,compile] [--device cpu|cuda] [--amp-dtype bf16|fp16]
//        [--python /usr/bin/python3] [--python-alloc jemalloc|tcmalloc|glibc] [--json out.json] [--markdown out.md]
//
// --device cuda runs every side on the GPU (steps timed between synchronisations; peak GPU
// memory reported too); the AMP sides use --amp-dtype (default bf16 on the CPU, fp16 with
// loss scaling on CUDA).
//
// --one-at-a-time runs the sides one after another instead of interleaved: only one side's
// process is alive at a time, so large batches fit on one GPU (four sides of ResNet50 at
// batch 256 would not) and each side's peak memory is its own. On CUDA the device's used
// memory is then also sampled (nvidia-smi, every 0.2 s) while each side runs:
// peak_gpu_used_mb, the same measure for the native and the PyTorch sides.
//
// THTL_ADDON and --python pick the pair (Debian's 1.13 by default; a pip venv and a build
// against it for 2.x). Ratios are native / PyTorch step time (min over repetitions): below
// 1.0 the native step is faster. The native side includes its uint8 -> float normalisation
// and random flip; the PyTorch side gets its input tensor ready-made. Under the table, the
// geometric mean over the rows of each side / eager, and of native / compile and
// native_amp_cl / compile_amp_cl where a row has both.
//
// --python-alloc jemalloc|tcmalloc|glibc picks the malloc of the PyTorch sides (LD_PRELOAD).
// The native side caches its freed CPU blocks (its own allocator); PyTorch's CPU tensors
// go to malloc, and glibc's malloc hands large freed blocks back to the system, so every
// step page-faults its activations in again. Where a page fault is dear (a virtual machine
// whose freed pages go back to the host) that measures the kernel, not PyTorch: on the
// 2-core benchmark VM, eager mobilenet_v2 fp32 on torch 2.13 took 0.90 s a step with
// glibc, 0.27-0.29 s with tcmalloc and 0.235 s with jemalloc told never to purge, with
// 3.4x glibc's page faults against jemalloc. PyTorch's CPU tuning guide preloads jemalloc
// or tcmalloc for training, so the default is jemalloc (Debian: libjemalloc2) with
// MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 (freed pages kept, as the native cache
// keeps them while a run trains), else tcmalloc (libtcmalloc-minimal4), else glibc with
// a note on stderr. The JSON header and the table's caption say which.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
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
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '8' },
    sides: { type: 'string', default: 'native,eager,channels_last' },
    precision: { type: 'string', default: 'fp32' },
    'channels-last': { type: 'boolean', default: false },
    nchw: { type: 'boolean', default: false },
    device: { type: 'string', default: 'cpu' },
    'amp-dtype': { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'python-alloc': { type: 'string' },
    'one-at-a-time': { type: 'boolean', default: false },
    json: { type: 'string' },
    markdown: { type: 'string' },
    worker: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
  },
});

// read by each native worker's addon (see the header): interleaved, keep the cache across the other sides' steps
if (!o['one-at-a-time'] && process.env.THTL_CPU_RELEASE_S === undefined) process.env.THTL_CPU_RELEASE_S = '600';

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
  const set = await native().ImageSet.build(items.map((i) => i.file), info.inputSize, threads > 0 ? { threads } : {});
  const s = await native().Session.create({ model: o.model, numClasses: 2, device: o.device, seed: 0, precision: o.precision, ...(o['channels-last'] || o.nchw ? { channelsLast: o['channels-last'] } : {}) });
  s.configureOptimizer({ lr: 1e-4 });
  const t0 = performance.now();
  await s.trainEpoch(set, labels, { batchSize: batch, seed: 0 });
  process.stdout.write(`${JSON.stringify({ ready: true, firstStepSeconds: (performance.now() - t0) / 1000 })}\n`);
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
/** The PyTorch sides' malloc: its name and the environment that preloads it. */
function pythonAllocator(asked) {
  const libs = {
    jemalloc: ['libjemalloc.so.2'],
    tcmalloc: ['libtcmalloc_minimal.so.4', 'libtcmalloc.so.4'],
  };
  const env = { jemalloc: { MALLOC_CONF: 'dirty_decay_ms:-1,muzzy_decay_ms:-1' } };
  if (asked !== undefined && asked !== 'glibc' && !libs[asked]) throw new Error(`--python-alloc: unknown allocator ${asked} (known: jemalloc, tcmalloc, glibc)`);
  if (asked === 'glibc') return { name: 'glibc', env: {} };
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  for (const name of asked === undefined ? Object.keys(libs) : [asked]) {
    for (const lib of libs[name]) {
      for (const dir of dirs) {
        const file = join(dir, lib);
        if (existsSync(file)) return { name, env: { LD_PRELOAD: file, ...env[name] } };
      }
    }
  }
  if (asked !== undefined) throw new Error(`--python-alloc ${asked}: ${libs[asked].join(' or ')} not found in ${dirs.join(', ')}`);
  process.stderr.write('vs-pytorch: neither jemalloc nor tcmalloc is installed; the PyTorch sides use glibc\'s malloc (see --python-alloc)\n');
  return { name: 'glibc', env: {} };
}

/** The environment of the _alt sides: the addon at THTL_ADDON_ALT. */
function altAddon() {
  const alt = process.env.THTL_ADDON_ALT;
  if (!alt || !existsSync(alt)) throw new Error(`the _alt sides need THTL_ADDON_ALT, the path of another build of the addon (${alt ? `${alt} does not exist` : 'not set'})`);
  return { THTL_ADDON: alt };
}

/** A worker process answering one JSON line per command. */
function worker(cmd, args, env = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  child.stdin.on('error', () => {});  // a side that died: reported through `ready`
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} ended early`);
    return JSON.parse(r.value);
  };
  return {
    ready: next(),
    kill: () => child.kill(),
    async ask(line) {
      child.stdin.write(`${line}\n`);
      return next();
    },
  };
}

const batch = Number(o.batch);
const reps = Number(o.reps);
const warmup = Number(o.warmup);
/** Untimed steps after the first: a compiled side gets at least one. */
const warmupOf = (n) => (n.startsWith('compile') ? Math.max(1, warmup) : warmup);
const threadList = o.threads.split(',').map(Number);
const sideNames = o.sides.split(',');
if (sideNames.some((n) => n.endsWith('_alt'))) altAddon();  // a missing THTL_ADDON_ALT stops before any work
const ampDtype = o['amp-dtype'] ?? (o.device === 'cpu' ? 'bf16' : 'fp16');
const registry = native().models();
const models = o.models ? o.models.split(',') : registry.map((m) => m.name);
const data = join(mkdtempSync(join(tmpdir(), 'thtl-vs-')), 'data');
const { writeVesselDataset } = await import(join(root, 'dist', 'lib', 'synth', 'write.js'));
writeVesselDataset({ out: data, perClass: Math.ceil(batch / 2), size: 256, seed: 1 });
const files = readImageFolder(data).items.slice(0, batch).map((i) => i.file);
const info = native().info();

const pythonAlloc = pythonAllocator(o['python-alloc']);
const header = { benchmark: 'vs-pytorch', device: o.device, ampDtype, batch, reps, warmup: Number(o.warmup), torch: info.runtimeTorchVersion || info.torchVersion, python: o.python, pythonAllocator: pythonAlloc.name };
const min = (xs) => Math.min(...xs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round3 = (x) => (typeof x === 'number' ? +x.toFixed(3) : null);
const rows = [];
/** Each row's unrounded best step times, for the geometric means. */
const exact = new Map();
for (const model of models) {
  const m = registry.find((r) => r.name === model);
  if (!m) throw new Error(`unknown model ${model}`);
  for (const threads of threadList) {
    const nativeArgs = ['--worker', 'native', '--model', model, '--threads', String(threads), '--batch', String(batch), '--data', data, '--device', o.device];
    const pythonArgs = (variant) => [join(root, 'benchmarks', 'vs_pytorch.py'), model, String(m.inputSize), String(batch), String(threads), variant, o.device, ampDtype, ...files];
    const script = join(root, 'benchmarks', 'vs-pytorch.mjs');
    const make = {
      native: () => worker(process.execPath, [script, ...nativeArgs]),
      native_nchw: () => worker(process.execPath, [script, ...nativeArgs, '--nchw']),
      native_cl: () => worker(process.execPath, [script, ...nativeArgs, '--channels-last']),
      native_amp_cl: () => worker(process.execPath, [script, ...nativeArgs, '--channels-last', '--precision', ampDtype]),
      native_malloc: () => worker(process.execPath, [script, ...nativeArgs], { THTL_CPU_ALLOCATOR: 'default' }),
      native_fused: () => worker(process.execPath, [script, ...nativeArgs], { THTL_FUSED_BN: '1' }),
      native_amp_cl_fused: () => worker(process.execPath, [script, ...nativeArgs, '--channels-last', '--precision', ampDtype], { THTL_FUSED_BN: '1' }),
      native_unfused: () => worker(process.execPath, [script, ...nativeArgs], { THTL_FUSED_BN: '0' }),
      native_amp_cl_unfused: () => worker(process.execPath, [script, ...nativeArgs, '--channels-last', '--precision', ampDtype], { THTL_FUSED_BN: '0' }),
      native_alt: () => worker(process.execPath, [script, ...nativeArgs], altAddon()),
      native_amp_cl_alt: () => worker(process.execPath, [script, ...nativeArgs, '--channels-last', '--precision', ampDtype], altAddon()),
      eager: () => worker(o.python, pythonArgs('eager'), pythonAlloc.env),
      channels_last: () => worker(o.python, pythonArgs('channels_last'), pythonAlloc.env),
      amp_cl: () => worker(o.python, pythonArgs('amp_cl'), pythonAlloc.env),
      compile: () => worker(o.python, pythonArgs('compile'), pythonAlloc.env),
      compile_amp_cl: () => worker(o.python, pythonArgs('compile_amp_cl'), pythonAlloc.env),
    };
    for (const n of sideNames) if (!make[n]) throw new Error(`unknown side ${n} (known: ${Object.keys(make).join(', ')})`);
    if (o['one-at-a-time']) {
      rows.push(await sequentialRow(model, m, threads, make));
      if (o.json) writeFileSync(o.json, `${JSON.stringify({ ...header, rows }, null, 2)}\n`);
      continue;
    }
    const sides = {};
    for (const n of sideNames) sides[n] = make[n]();
    // A side whose warm-up step fails (a kernel this LibTorch lacks, say) is left out of
    // this row, named in `failed`, and the others go on.
    const failed = [];
    const first = {};
    const settled = await Promise.allSettled(sideNames.map((n) => sides[n].ready));
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') first[sideNames[i]] = r.value.firstStepSeconds;
      else {
        failed.push(sideNames[i]);
        sides[sideNames[i]].kill();
        delete sides[sideNames[i]];
      }
    });
    const names = Object.keys(sides);
    // Untimed steps first (each side has already run one to get ready): the first steps of
    // a process run while its allocator and LibTorch's caches settle.
    for (let w = 0; w < Math.max(0, ...names.map(warmupOf)); w++) for (const n of names) if (w < warmupOf(n)) await sides[n].ask('step');
    const times = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < reps; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const n of order) times[n].push((await sides[n].ask('step')).seconds);
    }
    const peak = {};
    for (const n of names) peak[n] = await sides[n].ask('end');
    const best = Object.fromEntries(names.map((n) => [n, min(times[n])]));
    const row = {
      model, input: m.inputSize, threads,
      seconds: Object.fromEntries(names.map((n) => [n, +best[n].toFixed(3)])),
      median_seconds: Object.fromEntries(names.map((n) => [n, +median(times[n]).toFixed(3)])),
      images_per_s: Object.fromEntries(names.map((n) => [n, +(batch / best[n]).toFixed(2)])),
      // every side against eager PyTorch fp32 (< 1: faster than eager)
      ratio_vs_eager: best.eager ? Object.fromEntries(names.map((n) => [n, +(best[n] / best.eager).toFixed(2)])) : {},
      // the first (warm-up) step, compilation included for the compile sides
      first_step_seconds: Object.fromEntries(names.map((n) => [n, round3(first[n])])),
      ...(failed.length > 0 ? { failed } : {}),
      peak_rss_mb: Object.fromEntries(names.map((n) => [n, Math.round(peak[n].maxRssMB)])),
      ...(o.device !== 'cpu' ? { peak_gpu_mb: Object.fromEntries(names.map((n) => [n, peak[n].maxGpuMB === undefined ? null : Math.round(peak[n].maxGpuMB)])) } : {}),
    };
    rows.push(row);
    exact.set(row, best);
    // written after every row, so that a run cut short (a time limit) keeps what it measured
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ ...header, rows }, null, 2)}\n`);
    process.stderr.write(`${model} x${threads}: ${names.map((n) => `${n} ${row.seconds[n]}s`).join(', ')}\n`);
  }
}

/** The device's used memory in MB (nvidia-smi), or null where it cannot be read. */
function gpuUsedMb() {
  const r = spawnSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', `--id=${o.device.split(':')[1] ?? '0'}`], { encoding: 'utf8', timeout: 5000 });
  const v = r.status === 0 ? Number(r.stdout.trim().split('\n')[0]) : NaN;
  return Number.isFinite(v) ? v : null;
}

/** One row with the sides run one after another, each alone on the machine. */
async function sequentialRow(model, m, threads, make) {
  const seconds = {}, medians = {}, first = {}, peakRss = {}, peakGpu = {}, peakUsed = {}, failed = [];
  const baseline = o.device === 'cpu' ? null : gpuUsedMb();
  for (const n of sideNames) {
    let used = baseline;
    const sampler = baseline === null ? null : setInterval(() => {
      const v = gpuUsedMb();
      if (v !== null && (used === null || v > used)) used = v;
    }, 200);
    const side = make[n]();
    try {
      first[n] = (await side.ready).firstStepSeconds;
      for (let w = 0; w < warmupOf(n); w++) await side.ask('step');
      const times = [];
      for (let r = 0; r < reps; r++) times.push((await side.ask('step')).seconds);
      const peak = await side.ask('end');
      seconds[n] = min(times);
      medians[n] = median(times);
      peakRss[n] = Math.round(peak.maxRssMB);
      if (peak.maxGpuMB !== undefined) peakGpu[n] = Math.round(peak.maxGpuMB);
    } catch (err) {
      failed.push(n);
      side.kill();
      process.stderr.write(`${model} x${threads}: ${n} failed (${err instanceof Error ? err.message : err})\n`);
    } finally {
      if (sampler) clearInterval(sampler);
    }
    if (baseline !== null && used !== null) peakUsed[n] = used;
    if (seconds[n] !== undefined) process.stderr.write(`${model} x${threads}: ${n} ${seconds[n].toFixed(3)}s\n`);
  }
  const names = Object.keys(seconds);
  const row = {
    model, input: m.inputSize, threads, one_at_a_time: true,
    seconds: Object.fromEntries(names.map((n) => [n, +seconds[n].toFixed(3)])),
    median_seconds: Object.fromEntries(names.map((n) => [n, +medians[n].toFixed(3)])),
    images_per_s: Object.fromEntries(names.map((n) => [n, +(batch / seconds[n]).toFixed(2)])),
    ratio_vs_eager: seconds.eager ? Object.fromEntries(names.map((n) => [n, +(seconds[n] / seconds.eager).toFixed(2)])) : {},
    first_step_seconds: Object.fromEntries(names.map((n) => [n, round3(first[n])])),
    ...(failed.length > 0 ? { failed } : {}),
    peak_rss_mb: peakRss,
    ...(o.device !== 'cpu' ? { peak_gpu_mb: peakGpu, peak_gpu_used_mb: peakUsed, gpu_used_mb_before: baseline } : {}),
  };
  exact.set(row, seconds);
  return row;
}

/** Geometric mean over the rows that have both sides of a / b, with how many rows. */
function geomean(a, b) {
  const logs = rows.map((r) => exact.get(r)).filter((s) => s[a] > 0 && s[b] > 0).map((s) => Math.log(s[a] / s[b]));
  return logs.length === 0 ? null : { ratio: +Math.exp(logs.reduce((x, y) => x + y, 0) / logs.length).toFixed(3), rows: logs.length };
}

const others = sideNames.filter((n) => n !== 'eager');
// geometric means over the rows: every side against eager, and the native sides against
// their compiled PyTorch peers
const pairs = [['native', 'compile'], ['native_amp_cl', 'compile_amp_cl']].filter(([a, b]) => sideNames.includes(a) && sideNames.includes(b));
const geo = {
  vs_eager: sideNames.includes('eager') ? Object.fromEntries(others.map((n) => [n, geomean(n, 'eager')])) : {},
  ...Object.fromEntries(pairs.map(([a, b]) => [`${a}_vs_${b}`, geomean(a, b)])),
};
const result = { ...header, rows, geomean: geo };
const fmtGeo = (g) => (g ? `${g.ratio} (${g.rows} row${g.rows === 1 ? '' : 's'})` : 'n/a');
const md = [
  `LibTorch ${result.torch}, ${o.device}, PyTorch sides on ${pythonAlloc.name} malloc, batch ${batch}, AMP ${ampDtype}, min of ${reps} ${o['one-at-a-time'] ? '' : 'interleaved '}steps after ${o.warmup} untimed, seconds per training step; ratio = side / eager PyTorch fp32 (< 1: faster than eager); first step = the first (warm-up) step, torch.compile's compilation included, not in the step times`,
  '',
  `| model | threads | ${sideNames.join(' (s) | ')} (s) | ${others.map((n) => `${n} / eager`).join(' | ')} | first step s (compile) ${sideNames.join(' / ')} | peak RSS MB ${sideNames.join(' / ')} |`,
  `|---|---|${sideNames.map(() => '---|').join('')}${others.map(() => '---|').join('')}---|---|`,
  ...rows.map((r) => `| ${r.model} | ${r.threads} | ${sideNames.map((n) => r.seconds[n] ?? 'failed').join(' | ')} | ${others.map((n) => r.ratio_vs_eager[n] ?? '').join(' | ')} | ${sideNames.map((n) => r.first_step_seconds[n] ?? '-').join(' / ')} | ${sideNames.map((n) => r.peak_rss_mb[n] ?? '-').join(' / ')} |`),
  ...(sideNames.includes('eager') && others.length > 0 ? ['', `Geometric mean over the rows of side / eager (< 1: faster than eager): ${others.map((n) => `${n} ${fmtGeo(geo.vs_eager[n])}`).join(', ')}`] : []),
  ...(pairs.length > 0 ? ['', `Geometric mean over the rows of native / compiled PyTorch (< 1: native faster): ${pairs.map(([a, b]) => `${a} / ${b} ${fmtGeo(geo[`${a}_vs_${b}`])}`).join(', ')}`] : []),
].join('\n');
if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
if (o.markdown) writeFileSync(o.markdown, `${md}\n`);
process.stdout.write(`${md}\n`);
