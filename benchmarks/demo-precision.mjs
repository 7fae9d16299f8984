#!/usr/bin/env node
// The demo study at --precision fp32 and at --precision auto, side by side: how much faster
// auto is, and how far each table cell moves against how far fp32 itself moves when only
// the seed changes (the run-to-run spread).
//
// Runs `thtl-native demo` three times, one after another, each into its own folder:
//   fp32 at --seed A, fp32 at --seed B (the spread), auto at --seed A.
// Then, for every cell of every table (report/tables.json: each row's mean of each metric
// column), prints fp32, auto, |auto - fp32| and |fp32(B) - fp32(A)|, and a summary: the
// wall time of each run, the precision auto chose (the source model's config.json), the
// mean and largest |auto - fp32| and |spread| over the accuracy-like cells.
//
//   node benchmarks/demo-precision.mjs [--out DIR] [--seeds 123,124] [--threads 0]
//        [--reuse] [--markdown out.md] [-- extra demo options]
//
// --reuse keeps a folder that already holds report/tables.json instead of running it again.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values: o, positionals: extra } = parseArgs({
  options: {
    out: { type: 'string', default: join(tmpdir(), 'thtl-demo-precision') },
    seeds: { type: 'string', default: '123,124' },
    threads: { type: 'string', default: '0' },
    reuse: { type: 'boolean', default: false },
    markdown: { type: 'string' },
  },
  allowPositionals: true,
});
const seeds = o.seeds.split(',').map((s) => Number.parseInt(s, 10));
if (seeds.length !== 2 || seeds.some((s) => !Number.isInteger(s)) || seeds[0] === seeds[1])
  throw new Error(`--seeds wants two different integers, got "${o.seeds}"`);

const runs = [
  { name: 'fp32', precision: 'fp32', seed: seeds[0] },
  { name: 'fp32-spread', precision: 'fp32', seed: seeds[1] },
  { name: 'auto', precision: 'auto', seed: seeds[0] },
];

for (const r of runs) {
  r.dir = join(o.out, `${r.name}-seed${r.seed}`);
  r.tables = join(r.dir, 'study', 'report', 'tables.json');
  if (o.reuse && existsSync(r.tables)) {
    r.seconds = null;
    process.stderr.write(`[demo-precision] ${r.name}: reusing ${r.dir}\n`);
    continue;
  }
  const args = [join(root, 'bin', 'thtl-native.js'), 'demo', '--out', r.dir, '--seed', String(r.seed), '--precision', r.precision, '--threads', o.threads, ...extra];
  process.stderr.write(`[demo-precision] ${r.name}: node ${args.slice(1).join(' ')}\n`);
  const t0 = process.hrtime.bigint();
  const p = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  r.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (p.status !== 0) throw new Error(`demo ${r.name} failed (exit ${p.status})`);
  process.stderr.write(`[demo-precision] ${r.name}: ${r.seconds.toFixed(1)} s\n`);
}

/** the precision a run used, as the source model's config.json keeps it */
const used = (r) => {
  const cfg = JSON.parse(readFileSync(join(r.dir, 'source-model', 'config.json'), 'utf8'));
  return `${cfg.precision}${cfg.channelsLast ? ' + channels_last' : ''}`;
};

/** every cell: key -> mean, for each table row and metric column */
const cells = (r) => {
  const json = JSON.parse(readFileSync(r.tables, 'utf8'));
  const out = new Map();
  for (const t of json.tables)
    for (const row of t.rows)
      for (const [k, s] of Object.entries(row.metrics)) if (s) out.set(`${t.id}\t${row.label}\t${k}`, s.mean);
  return out;
};
const [a, b, auto] = runs.map(cells);
const lines = ['| table | row | column | fp32 | auto | auto - fp32 | fp32 seed B - fp32 |', '|---|---|---|---:|---:|---:|---:|'];
const diffs = [];
const f = (x) => (x === undefined ? '-' : x.toFixed(4));
for (const [key, v] of a) {
  const [table, row, col] = key.split('\t');
  const d = auto.has(key) ? auto.get(key) - v : undefined;
  const s = b.has(key) ? b.get(key) - v : undefined;
  lines.push(`| ${table} | ${row} | ${col} | ${f(v)} | ${f(auto.get(key))} | ${f(d)} | ${f(s)} |`);
  if (d !== undefined && s !== undefined) diffs.push({ col, d: Math.abs(d), s: Math.abs(s) });
}
const mean = (xs) => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
const max = (xs) => Math.max(...xs);
const sec = (r) => (r.seconds === null ? 'reused' : `${r.seconds.toFixed(1)} s`);
// the classification metrics (rates in [0, 1]); epochs, parameter counts and calibration apart
const rate = /^(accuracy|precision_|recall_|f1_|auc)/;
const rates = diffs.filter((x) => rate.test(x.col));
const byColumn = ['| column | cells | mean abs(auto - fp32) | mean abs(fp32 seed B - fp32) | cells where auto moved further |', '|---|---:|---:|---:|---:|'];
for (const col of [...new Set(diffs.map((x) => x.col))]) {
  const xs = diffs.filter((x) => x.col === col);
  byColumn.push(`| ${col} | ${xs.length} | ${mean(xs.map((x) => x.d)).toFixed(4)} | ${mean(xs.map((x) => x.s)).toFixed(4)} | ${xs.filter((x) => x.d > x.s).length} |`);
}
const summary = [
  `fp32 seed ${seeds[0]}: ${sec(runs[0])} (${used(runs[0])}); fp32 seed ${seeds[1]}: ${sec(runs[1])}; auto seed ${seeds[0]}: ${sec(runs[2])} (${used(runs[2])})`,
  runs[0].seconds && runs[2].seconds ? `auto is ${(runs[0].seconds / runs[2].seconds).toFixed(2)}x as fast as fp32 (wall time of the whole demo)` : '',
  `${rates.length} classification-metric cells (accuracy, precision, recall, F1, AUC) in both: ` +
    `abs(auto - fp32) mean ${mean(rates.map((x) => x.d)).toFixed(4)}, largest ${max(rates.map((x) => x.d)).toFixed(4)}; ` +
    `abs(fp32 seed B - fp32) mean ${mean(rates.map((x) => x.s)).toFixed(4)}, largest ${max(rates.map((x) => x.s)).toFixed(4)}; ` +
    `cells where auto moved further than the seed did: ${rates.filter((x) => x.d > x.s).length}`,
  byColumn.join('\n'),
].filter(Boolean);
const md = `${summary.join('\n\n')}\n\n${lines.join('\n')}\n`;
process.stdout.write(md);
if (o.markdown) writeFileSync(o.markdown, md);
