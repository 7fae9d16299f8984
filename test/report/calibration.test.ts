// Calibration in the study report: the ECE and Brier columns of Tables 3, 4 and 6 (from
// each run's predictions.csv test rows, mean ± std over runs) and the reliability diagram
// of each configuration (runs pooled), in a temporary study folder with hand-made
// predictions.csv files.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { RunRecord } from '../../lib/experiment/types.js';
import { buildStatistics } from '../../lib/report/comparisons.js';
import { buildHtmlReport } from '../../lib/report/html.js';
import { buildReport, writeReport, type ReportJson } from '../../lib/report/index.js';
import { buildReliabilityFigures } from '../../lib/report/reliability.js';
import { buildTable, tablesToMarkdown, tableToCsv } from '../../lib/report/tables.js';
import { TestPredictions } from '../../lib/report/test-predictions.js';
import { DEFAULT_BOOTSTRAP } from '../../lib/stats/bootstrap.js';
import { brierScore, calibrationError, multiclassBrier, reliabilityBins } from '../../lib/stats/calibration.js';
import { predictionsCsv, readPredictions, type Prediction } from '../../lib/train/predictions.js';
import { tempDir } from '../helpers/images.js';
import { cell, CLASSES, record } from './fixtures.js';

/** Deterministic test (and a few validation) rows: probabilities spread over many bins, some confidences exactly 1. */
function rows(seed: number, classes: readonly string[], n = 40): Prediction[] {
  const k = classes.length;
  const out: Prediction[] = [];
  for (let i = 0; i < n; i++) {
    const label = (i * 7 + seed) % k;
    const u = ((i * 37 + seed * 11) % 97) / 97; // in [0, 1)
    const top = i % 13 === 0 ? 1 : 1 / k + (1 - 1 / k) * u;
    const picked = (i + seed) % 3 === 0 ? (label + 1) % k : label; // a third wrong
    const probs = Array.from({ length: k }, (_, c) => (c === picked ? top : (1 - top) / (k - 1)));
    const rounded = probs.map((p) => Number(p.toPrecision(9)));
    out.push({ split: i < 5 ? 'val' : 'test', file: `img${i}.png`, group: '', label, probs: rounded, predicted: rounded.indexOf(Math.max(...rounded)) });
  }
  return out;
}

function writeRun(study: string, r: RunRecord, seed: number): void {
  mkdirSync(join(study, r.dir), { recursive: true });
  writeFileSync(join(study, r.dir, 'predictions.csv'), predictionsCsv(r.classes, rows(seed, r.classes)));
}

/** ECE and Brier recomputed from a run folder's file, as the brief defines them. */
function fromFile(study: string, r: RunRecord): { ece: number; brier: number; probs: number[][]; labels: number[] } {
  const test = readPredictions(join(study, r.dir, 'predictions.csv'), r.classes).filter((p) => p.split === 'test');
  const probs = test.map((p) => p.probs);
  const labels = test.map((p) => p.label);
  return { ece: calibrationError(probs, labels, { bins: 15 }), brier: r.classes.length === 2 ? brierScore(probs, labels) : multiclassBrier(probs, labels), probs, labels };
}

function csvRows(csv: string): Record<string, string>[] {
  const [head, ...lines] = csv.trimEnd().split('\n');
  const keys = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));
}

/** A small well-formedness check: one root, every tag closed in order, attributes quoted, entities known. */
function checkXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    expect(text, `text before offset ${m.index}`).not.toMatch(/[<>]/);
    expect(text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, ''), 'entity').not.toContain('&');
    last = tag.lastIndex;
    if (m[0].startsWith('<!--')) continue;
    const [, close, name, , self] = m;
    if (close) expect(stack.pop(), `</${name}>`).toBe(name);
    else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

/** Bars of a named Vega rect mark (one <path> each). */
function bars(svg: string, mark: string): number {
  const groups = svg.split(`class="mark-rect role-mark ${mark}_marks"`).slice(1);
  expect(groups).toHaveLength(1);
  const g = groups[0]!;
  return (g.slice(0, g.indexOf('</g>')).match(/<path /g) ?? []).length;
}

describe('calibration in the report tables', () => {
  const study = tempDir('calibration-study');
  const runs = [1, 2, 3].map((run) => record('expt1', 'vgg19', run));
  const solo = record('expt3', 'solo', 1);
  const missing = [1, 2].map((run) => record('expt2', 'vgg19', run)); // no predictions.csv
  const steps = [1, 2].flatMap((step) => [1, 2].map((run) => record('swft', 'vgg19', run, { step })));
  const plus = record('plus', 'vgg19', 1);
  runs.forEach((r, i) => writeRun(study, r, i + 1));
  writeRun(study, solo, 9);
  steps.forEach((r, i) => writeRun(study, r, 20 + i));
  const records = [...runs, solo, ...missing, ...steps, plus];
  const predictions = new TestPredictions(study);
  const t3 = buildTable('table3', records, { predictions });
  const t4 = buildTable('table4', records, { predictions });
  const t5 = buildTable('table5', records, { predictions });
  const t6 = buildTable('table6', records, { predictions });

  it('each run\'s ECE and Brier equal calibrationError / brierScore of its predictions.csv test rows; mean ± std over runs', () => {
    const ece = cell(t3, 'vgg19**', 'ece')!;
    const brier = cell(t3, 'vgg19**', 'brier')!;
    const want = runs.map((r) => fromFile(study, r));
    expect(ece.values).toEqual(want.map((w) => w.ece));
    expect(brier.values).toEqual(want.map((w) => w.brier));
    expect(ece.n).toBe(3);
    expect(ece.mean).toBeCloseTo(want.reduce((a, w) => a + w.ece, 0) / 3, 14);
    expect(ece.std).not.toBeNull();
    expect(new Set(ece.values).size).toBe(3); // the runs differ, so the std says something
    // Table 6 rows too; no calibration for Table 5 (no test split)
    expect(cell(t6, 'Step 2', 'brier')!.values).toEqual(steps.filter((r) => r.step === 2).map((r) => fromFile(study, r).brier));
    expect(t5.columns.map((c) => c.key)).toEqual(['epochs', 'val_accuracy', 'avg_epoch_seconds']);
    expect(t3.columns.slice(-2).map((c) => c.key)).toEqual(['ece', 'brier']);
    expect(t6.columns.slice(-3).map((c) => c.key)).toEqual(['trainable_params', 'ece', 'brier']);
  });

  it('runs without predictions.csv show n/a; the other columns are unchanged', () => {
    expect(cell(t3, 'vgg19^', 'ece')).toBeNull();
    expect(cell(t3, 'vgg19^', 'brier')).toBeNull();
    const plain = buildTable('table3', records);
    expect(plain.columns.map((c) => c.key)).not.toContain('ece');
    for (const row of plain.rows) {
      const withCal = t3.rows.find((r) => r.label === row.label)!;
      for (const [k, v] of Object.entries(row.metrics)) expect(withCal.metrics[k]).toEqual(v);
    }
  });

  it('Markdown: the main table keeps the paper\'s columns; the details end with ECE and Brier; n=1 says interval n/a', () => {
    const md = tablesToMarkdown([t3, t4]);
    const mainHead = md.split('\n').find((l) => l.startsWith('| Expt. | Model | Epoch'))!;
    expect(mainHead.endsWith('| AUC |')).toBe(true);
    const detailHead = md.split('\n').find((l) => l.startsWith('| Expt. | Model | Runs'))!;
    expect(detailHead.endsWith('| AUC | ECE | Brier |')).toBe(true);
    const detail = (label: string) =>
      md
        .slice(md.indexOf('Details'))
        .split('\n')
        .find((l) => l.includes(`| ${label} |`))!
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim());
    const e = cell(t3, 'vgg19**', 'ece')!;
    const b = cell(t3, 'vgg19**', 'brier')!;
    const row = detail('vgg19\\*\\*');
    expect(row.slice(-2)).toEqual([
      `${e.mean.toFixed(3)} ± ${e.std!.toFixed(3)} [${e.ci95![0].toFixed(3)}, ${e.ci95![1].toFixed(3)}]`,
      `${b.mean.toFixed(3)} ± ${b.std!.toFixed(3)} [${b.ci95![0].toFixed(3)}, ${b.ci95![1].toFixed(3)}]`,
    ]);
    expect(detail('vgg19\\^').slice(-2)).toEqual(['n/a', 'n/a']);
    // n = 1
    const one = fromFile(study, solo);
    const soloRow = md.slice(md.indexOf('Table 4')).slice(md.slice(md.indexOf('Table 4')).indexOf('Details'));
    const soloCells = soloRow.split('\n').find((l) => l.includes('| solo\\* |'))!.slice(1, -1).split(' | ').map((c) => c.trim());
    expect(soloCells.slice(-2)).toEqual([`${one.ece.toFixed(3)} (n=1; interval n/a)`, `${one.brier.toFixed(3)} (n=1; interval n/a)`]);
    expect(md).toContain('ECE (15 equal-width bins, top-label confidence)');
  });

  it('CSV: ece_* and brier_* at the end, full precision; n=1 leaves std and interval empty', () => {
    const csv = tableToCsv(t3);
    expect(csv.split('\n')[0]!.endsWith(',auc_n,ece_mean,ece_std,ece_ci_lo,ece_ci_hi,ece_n,brier_mean,brier_std,brier_ci_lo,brier_ci_hi,brier_n')).toBe(true);
    const r = csvRows(csv).find((x) => x.label === 'vgg19**')!;
    expect(Number(r.ece_mean)).toBe(cell(t3, 'vgg19**', 'ece')!.mean);
    expect(Number(r.brier_std)).toBe(cell(t3, 'vgg19**', 'brier')!.std);
    expect(r.ece_n).toBe('3');
    expect(csvRows(tableToCsv(t3)).find((x) => x.label === 'vgg19^')).toMatchObject({ ece_mean: '', ece_n: '0' });
    const s = csvRows(tableToCsv(t4)).find((x) => x.label === 'solo*')!;
    const one = fromFile(study, solo);
    expect(s).toMatchObject({ ece_mean: String(one.ece), ece_std: '', ece_ci_lo: '', ece_ci_hi: '', ece_n: '1', brier_mean: String(one.brier), brier_std: '', brier_n: '1' });
  });

  it('more than two classes: the multiclass Brier sum', () => {
    const classes = ['a', 'b', 'c'];
    const three = [1, 2].map((run) => record('expt1', 'tri', run, { classes }));
    const dir = tempDir('calibration-3class');
    three.forEach((r, i) => writeRun(dir, r, 5 + i));
    const t = buildTable('table3', three, { predictions: new TestPredictions(dir) });
    const want = three.map((r) => fromFile(dir, r));
    expect(cell(t, 'tri**', 'brier')!.values).toEqual(want.map((w) => multiclassBrier(w.probs, w.labels)));
    expect(cell(t, 'tri**', 'ece')!.values).toEqual(want.map((w) => w.ece));
  });

  it('the statistics read the same files once and report the same runs left out', () => {
    const shared = new TestPredictions(study);
    buildTable('table3', records, { predictions: shared });
    const a = buildStatistics(study, records, [], DEFAULT_BOOTSTRAP, shared);
    const b = buildStatistics(study, records, []);
    expect(a).toEqual(b);
    expect(a.skipped).toHaveLength(2);
    expect(a.skipped[0]).toMatch(/^expt2\/vgg19\/run1: .*predictions\.csv does not exist/);
  });

  it('reliability figures: one per configuration with predictions, runs pooled; SVG well-formed with one bar per non-empty bin', async () => {
    const files = await buildReport(records, { studyDir: study, title: 'Calibration study' });
    const names = [...files.keys()].filter((k) => k.startsWith('reliability-'));
    expect(names).toEqual(['reliability-expt1-vgg19.svg', 'reliability-expt3-solo.svg', 'reliability-swft-vgg19-step1.svg', 'reliability-swft-vgg19-step2.svg']);
    const pooled = runs.map((r) => fromFile(study, r));
    const probs = pooled.flatMap((p) => p.probs);
    const labels = pooled.flatMap((p) => p.labels);
    const bins = reliabilityBins(probs, labels, 15);
    const nonEmpty = bins.filter((b) => b.count > 0);
    expect(nonEmpty.length).toBeGreaterThan(5);
    expect(bins[15]!.count).toBeGreaterThan(0); // confidences of exactly 1: the extra bar
    const ece = calibrationError(probs, labels);
    const svg = files.get('reliability-expt1-vgg19.svg') as string;
    checkXml(svg);
    expect(bars(svg, 'accuracy')).toBe(nonEmpty.length);
    expect(bars(svg, 'histogram')).toBe(nonEmpty.length);
    expect(svg).toContain(`>Reliability: vgg19** (ECE ${ece.toFixed(3)})<`);
    expect(svg).toContain('>Confidence (top-label probability)<');
    expect(svg).toContain('diagonal_marks');
    expect(svg).toContain('font-family="DejaVu Sans"');
    const json = JSON.parse(files.get('tables.json') as string) as ReportJson;
    expect(json.reliability![0]).toEqual({ figure: 'reliability-expt1-vgg19', label: 'vgg19**', stage: 'expt1', model: 'vgg19', step: null, runs: runs.map((r) => r.dir), images: probs.length, ece });
    // each figure: bars = non-empty bins of its pooled predictions
    for (const f of buildReliabilityFigures(records, predictions)) {
      const s = files.get(`reliability-${f.name}.svg`) as string;
      checkXml(s);
      expect(bars(s, 'accuracy')).toBe(f.bins.filter((b) => b.count > 0).length);
    }
    // the same records give the same bytes
    const again = await buildReport([...records].reverse(), { studyDir: study, title: 'Calibration study' });
    for (const n of names) expect(again.get(n)).toBe(files.get(n));
    // without a study folder nothing changes: no calibration, no reliability file
    const plain = await buildReport(records, { title: 'Calibration study' });
    expect([...plain.keys()].some((k) => k.startsWith('reliability-'))).toBe(false);
    expect(plain.get('tables.json') as string).not.toContain('"ece"');
  });

  it('writeReport removes reliability figures the runs no longer produce', async () => {
    const out = tempDir('calibration-report');
    await writeReport(out, records, { studyDir: study });
    expect(existsSync(join(out, 'reliability-expt3-solo.svg'))).toBe(true);
    await writeReport(out, records.filter((r) => r !== solo), { studyDir: study });
    expect(existsSync(join(out, 'reliability-expt3-solo.svg'))).toBe(false);
    expect(existsSync(join(out, 'reliability-expt1-vgg19.svg'))).toBe(true);
  });

  it('HTML: ECE and Brier columns with tooltips, and the reliability figures with alt text', async () => {
    const statistics = { bootstrap: DEFAULT_BOOTSTRAP, intervals: [], comparisons: [], skipped: [] };
    const html = await buildHtmlReport(study, records, { title: 'Calibration', modelOrder: [], statistics });
    expect(html).toContain('<th data-col="13" tabindex="0">ECE</th><th data-col="14" tabindex="0">Brier</th>');
    const e = cell(t3, 'vgg19**', 'ece')!;
    expect(html).toContain(`data-sort="${e.mean}" title="${e.mean.toFixed(3)} ± ${e.std!.toFixed(3)}`);
    const alts = [...html.matchAll(/<img alt="(reliability diagram of [^"]*)"/g)].map((m) => m[1]);
    expect(alts).toHaveLength(4);
    expect(alts[0]).toMatch(/^reliability diagram of vgg19\*\*: ECE \d\.\d{3}, 105 test images of 3 run\(s\) in \d+ non-empty bin\(s\)$/);
    expect(html.indexOf('<h3>Reliability diagrams</h3>')).toBeGreaterThan(html.indexOf('<section id="roc">'));
    expect(html.indexOf('<h3>Reliability diagrams</h3>')).toBeLessThan(html.indexOf('<section id="confusion">'));
    expect(CLASSES).toEqual(['benign', 'malignant']);
  });
});
