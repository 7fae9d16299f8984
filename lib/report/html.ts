// report/index.html: the whole study report in one self-contained page, opened from disk
// with no server and no network. Tables 3-6, the run intervals and the comparisons as
// sortable HTML tables (a click on a header sorts; a few lines of inline script); ROC
// figures, reliability diagrams, confusion matrices and each run's learning curves drawn with Vega-Lite
// (rendered here to SVG, embedded as data: URIs so that every figure keeps its own ids);
// LayerCAM figures (the study folder's cam/) embedded as PNG; each run's config.json; a link to
// model-cards.md; with folds, the cross-validation tables (folds.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { TopLevelSpec } from 'vega-lite';

import type { RunRecord } from '../experiment/types.js';
import { readJsonLinesFile, writeFileAtomic } from '../util/runfolder.js';
import type { StudyStatistics, MetricComparison } from './comparisons.js';
import type { Interval } from '../stats/bootstrap.js';
import { CV_METRICS, foldMeanStd, intervalText } from '../stats/folds.js';
import { configFoldsTitle, type FoldsReport } from './folds.js';
import { buildReliabilityFigures, reliabilityAlt, renderReliabilitySvg } from './reliability.js';
import { buildRocFigures, FONT_FAMILY, renderRocSvg, renderVegaLiteSvg } from './roc.js';
import { buildTables, configLabel, formatDetail, formatMean, type PaperTable } from './tables.js';
import { CALIBRATION_BINS, TestPredictions } from './test-predictions.js';

export interface HtmlReportOptions {
  title: string;
  modelOrder: string[];
  statistics: StudyStatistics;
  /** the study folder's test predictions (shared with the rest of the report); read from studyDir when absent */
  predictions?: TestPredictions;
  /** a study with folds: its cross-validation summary (buildFoldsReport, folds.ts), shown in a Cross-validation section */
  cv?: FoldsReport;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const svgImg = (svg: string, alt: string) => `<img alt="${esc(alt)}" src="data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}">`;
const CONFIG = { font: FONT_FAMILY, title: { fontSize: 13 }, axis: { labelFontSize: 11, titleFontSize: 11 }, legend: { labelFontSize: 11 } };

interface Cell {
  text: string;
  /** the value sorting uses (numbers sort as numbers) */
  sort?: number | string;
  title?: string;
}

function htmlTable(id: string, head: string[], rows: Cell[][]): string {
  const th = head.map((h, i) => `<th data-col="${i}" tabindex="0">${esc(h)}</th>`).join('');
  const tr = rows
    .map((r) => `<tr>${r.map((c) => `<td${c.sort !== undefined ? ` data-sort="${esc(String(c.sort))}"` : ''}${c.title ? ` title="${esc(c.title)}"` : ''}>${esc(c.text)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="scroll"><table class="sortable" id="${esc(id)}"><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table></div>`;
}

function paperTableHtml(t: PaperTable): string {
  const lead = t.id === 'table6' ? ['Model', 'Step'] : t.id === 'table5' ? ['Model'] : ['Expt.', 'Model'];
  const rows = t.rows.map((r) => [
    ...(t.id === 'table6' ? [{ text: `${r.model}++` }, { text: r.label }] : t.id === 'table5' ? [{ text: r.label }] : [{ text: r.expt }, { text: r.label }]),
    ...t.columns.map((c): Cell => {
      const s = r.metrics[c.key] ?? null;
      return { text: formatMean(s, c), ...(s ? { sort: s.mean, title: formatDetail(s, c) } : {}) };
    }),
  ]);
  return `<h3>${esc(t.title)}</h3><p class="caption">${esc(t.caption)} Hover a cell for mean ± std [95% interval].</p>${htmlTable(t.id, [...lead, ...t.columns.map((c) => c.header)], rows)}`;
}

const f3 = (x: number) => x.toFixed(3);
const pv = (p: number) => (p < 0.001 ? '<0.001' : p.toFixed(3));

function comparisonsHtml(s: StudyStatistics): string {
  const m = (c: MetricComparison | null): Cell[] =>
    c
      ? [
          { text: f3(c.first), sort: c.first },
          { text: f3(c.second), sort: c.second },
          { text: `${c.difference.estimate >= 0 ? '+' : ''}${f3(c.difference.estimate)} [${f3(c.difference.lo)}, ${f3(c.difference.hi)}]`, sort: c.difference.estimate },
          { text: `${pv(c.p)} (${pv(c.pHolm)})`, sort: c.p, title: `${c.test}; Holm-adjusted ${c.pHolm}` },
        ]
      : [{ text: '' }, { text: '' }, { text: '' }, { text: '' }];
  const rows = s.comparisons.map((r) => [{ text: r.model }, { text: r.comparison }, { text: String(r.run), sort: r.run === 'mean' ? 1e9 : r.run }, ...m(r.accuracy), ...m(r.auc)]);
  const iv = (x: { estimate: number; lo: number; hi: number } | null): Cell => (x ? { text: `${f3(x.estimate)} [${f3(x.lo)}, ${f3(x.hi)}]`, sort: x.estimate } : { text: '' });
  const runs = s.intervals.map((r) => [{ text: r.label }, { text: String(r.run), sort: r.run }, { text: String(r.images), sort: r.images }, iv(r.accuracy), iv(r.macroF1), iv(r.auc)]);
  const how = `${s.bootstrap.replicates} bootstrap replicates (seed ${s.bootstrap.seed}), resampling ${(s.comparisons[0]?.by ?? s.intervals[0]?.by) === 'patient' ? 'patients' : 'images'}`;
  return [
    '<h3>Paired comparisons on the same test images</h3>',
    `<p class="caption">Difference = first − second with a 95% paired bootstrap interval (${esc(how)}). A run row compares the two configurations trained with the same seed (McNemar's exact test for accuracy, DeLong's test for AUC); a mean row compares the means over the runs (paired bootstrap). p (Holm-adjusted across the table).</p>`,
    rows.length > 0
      ? htmlTable('comparisons', ['Model', 'Comparison', 'Run', 'Acc. first', 'Acc. second', 'Acc. diff [95% CI]', 'p (Holm)', 'AUC first', 'AUC second', 'AUC diff [95% CI]', 'p (Holm)'], rows)
      : '<p>No comparison: the study has no pair of configurations the paper compares, with predictions of both.</p>',
    '<h3>Each run with bootstrap intervals</h3>',
    `<p class="caption">95% percentile intervals, ${esc(how)}.</p>`,
    htmlTable('run-intervals', ['Run', 'Run #', 'Images', 'Accuracy', 'Macro F1', 'AUC'], runs),
    ...(s.skipped.length > 0 ? [`<p class="note">Left out: ${esc(s.skipped.join('; '))}</p>`] : []),
  ].join('\n');
}

function runLabel(r: RunRecord): string {
  return `${configLabel(r)} run ${r.run}`;
}

/** The confusion matrices of the target runs, one small heatmap per run folder. */
async function confusionSvg(records: readonly RunRecord[]): Promise<string | null> {
  const seen = new Set<string>();
  const values: { run: string; truth: string; predicted: string; count: number }[] = [];
  const order: string[] = [];
  for (const r of records) {
    if (!r.test || seen.has(r.dir)) continue;
    seen.add(r.dir);
    const label = runLabel(r);
    order.push(label);
    r.test.confusion.forEach((row, i) => row.forEach((count, j) => values.push({ run: label, truth: r.classes[i]!, predicted: r.classes[j]!, count })));
  }
  if (values.length === 0) return null;
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    background: 'white',
    config: { ...CONFIG, view: { stroke: null } },
    facet: { field: 'run', type: 'nominal', sort: order, title: null, header: { labelFontSize: 11, labelLimit: 220 } },
    columns: 4,
    spec: {
      width: 150,
      height: 150,
      layer: [
        {
          mark: 'rect',
          encoding: {
            x: { field: 'predicted', type: 'nominal', title: 'predicted' },
            y: { field: 'truth', type: 'nominal', title: 'true' },
            color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' }, legend: null },
          },
        },
        { mark: { type: 'text', fontSize: 12 }, encoding: { x: { field: 'predicted', type: 'nominal' }, y: { field: 'truth', type: 'nominal' }, text: { field: 'count', type: 'quantitative' } } },
      ],
    },
  } as TopLevelSpec);
}

interface EpochLine {
  epoch: number;
  train_loss: number;
  val_loss: number;
  train_accuracy: number;
  val_accuracy: number;
}

async function learningCurvesSvg(title: string, epochs: EpochLine[]): Promise<string> {
  const values = epochs.flatMap((e) => [
    { epoch: e.epoch, metric: 'loss', split: 'train', value: e.train_loss },
    { epoch: e.epoch, metric: 'loss', split: 'val', value: e.val_loss },
    { epoch: e.epoch, metric: 'accuracy', split: 'train', value: e.train_accuracy },
    { epoch: e.epoch, metric: 'accuracy', split: 'val', value: e.val_accuracy },
  ]);
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    background: 'white',
    config: CONFIG,
    facet: { column: { field: 'metric', type: 'nominal', sort: ['loss', 'accuracy'], title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 260,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'split', type: 'nominal', scale: { domain: ['train', 'val'], range: ['#4c78a8', '#f58518'] } },
      },
    },
  } as TopLevelSpec);
}

async function runsHtml(studyDir: string, records: readonly RunRecord[]): Promise<string> {
  const seen = new Set<string>();
  const parts: string[] = [];
  const all = [...records].sort((a, b) => Number(b.stage === 'plus') - Number(a.stage === 'plus'));
  for (const r of all) {
    if (seen.has(r.dir)) continue;
    seen.add(r.dir);
    const dir = join(studyDir, r.dir);
    const epochs = readJsonLinesFile<EpochLine>(join(dir, 'metrics.jsonl'));
    const config = existsSync(join(dir, 'config.json')) ? readFileSync(join(dir, 'config.json'), 'utf8') : '{}';
    const summary = r.test ? `test accuracy ${f3(r.test.accuracy)}${r.test.auc !== null ? `, AUC ${f3(r.test.auc)}` : ''}` : `val accuracy ${f3(r.valAccuracy)}`;
    parts.push(
      `<details class="run"><summary>${esc(runLabel(r))}: ${esc(r.dir)}, ${r.epochsRun} epochs (best ${r.bestEpoch}), ${esc(summary)}</summary>` +
        (epochs.length > 0 ? svgImg(await learningCurvesSvg(`${runLabel(r)}: loss and accuracy per epoch`, epochs), `learning curves of ${r.dir}`) : '') +
        `<pre>${esc(config.trim())}</pre></details>`,
    );
  }
  return parts.join('\n');
}

const f4 = (x: number | null): string => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(4));
const numCell = (x: number | null): Cell => ({ text: f4(x), ...(x !== null && Number.isFinite(x) ? { sort: x } : {}) });

/** Per configuration: its folds (table cv-<i>, the last row mean ± std) and the pooled out-of-fold metrics (table cv-pooled-<i>). */
function foldsHtml(r: FoldsReport): string {
  if (r.configurations.length === 0) return '<p>No configuration has finished folds with test predictions.</p>';
  const parts = [
    `<p class="caption">${r.folds} folds of the target images (splits/folds.json): run k of every configuration is tested on fold k and validated on a part of the other folds. ` +
      'Pooled: the out-of-fold test predictions of all folds together (every image once), with percentile-bootstrap 95% intervals (images of one patient move together).</p>',
  ];
  r.configurations.forEach((c, i) => {
    const s = c.summary;
    const auc = c.classes.length === 2 ? 'AUC' : 'AUC (macro OvR)';
    const rows: Cell[][] = s.perFold.map((f) => [
      { text: String(f.fold), sort: f.fold },
      { text: f.dir },
      { text: String(f.images), sort: f.images },
      { text: f.patients === null ? 'n/a' : String(f.patients), ...(f.patients !== null ? { sort: f.patients } : {}) },
      { text: String(f.bestEpoch), sort: f.bestEpoch },
      numCell(f.accuracy),
      numCell(f.auc),
      numCell(f.macroF1),
    ]);
    rows.push([{ text: 'mean ± std' }, { text: '' }, { text: '' }, { text: '' }, { text: '' }, ...CV_METRICS.map((k) => ({ text: foldMeanStd(s, k) }))]);
    const iv = (x: Interval | null): Cell => ({ text: intervalText(x), ...(x ? { sort: x.estimate } : {}) });
    const pooled: Cell[][] = [
      [{ text: 'accuracy' }, iv(s.pooled.accuracy)],
      [{ text: auc }, iv(s.pooled.auc)],
      [{ text: 'macro F1' }, iv(s.pooled.macroF1)],
      [{ text: 'ECE (15 bins, top label)' }, numCell(s.pooled.ece)],
    ];
    parts.push(
      `<h3>${esc(configFoldsTitle(c))}</h3>` +
        (c.finished < c.of ? `<p class="note">${c.finished} of ${c.of} folds finished: the pooled predictions cover those folds only.</p>` : '') +
        htmlTable(`cv-${i + 1}`, ['Fold', 'Run folder', 'Images', 'Patients', 'Best epoch', 'Accuracy', auc, 'Macro F1'], rows) +
        `<p class="caption">Pooled out-of-fold: ${s.pooled.n} images${s.pooled.patients !== null ? `, ${s.pooled.patients} patients` : ''}.</p>` +
        htmlTable(`cv-pooled-${i + 1}`, ['Metric', 'Value [95% interval]'], pooled),
    );
  });
  return parts.join('\n');
}

function camHtml(studyDir: string): string {
  const dir = join(studyDir, 'cam');
  if (!existsSync(join(dir, 'cam.json'))) return '<p>No LayerCAM figures in this study folder (`thtl-native cam ... --out DIR/cam` makes them).</p>';
  const cam = JSON.parse(readFileSync(join(dir, 'cam.json'), 'utf8')) as { images: { image: string; label: string; figure: string; models: { label: string; class: string; probability: number }[] }[] };
  return cam.images
    .filter((im) => existsSync(join(dir, im.figure)))
    .map((im) => {
      const png = readFileSync(join(dir, im.figure)).toString('base64');
      const caption = `${im.image} (true: ${im.label}); ${im.models.map((m) => `${m.label}: ${m.class} ${f3(m.probability)}`).join('; ')}`;
      return `<figure><img alt="LayerCAM of ${esc(im.image)}" src="data:image/png;base64,${png}"><figcaption>${esc(caption)}</figcaption></figure>`;
    })
    .join('\n');
}

const STYLE = `body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}h3{font-size:15px}
nav a{margin-right:14px}.caption,.note{color:#555;font-size:13px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:8px 0 18px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
img{max-width:100%}figure{margin:12px 0}.figures{display:flex;flex-wrap:wrap;gap:8px}figure.reliability{margin:4px 0;max-width:460px}figcaption{font-size:12px;color:#555}
details.run{margin:6px 0}details.run summary{cursor:pointer}pre{background:#f7f7f7;padding:8px;font-size:12px;overflow:auto;max-height:360px}`;

/** Sorting: a click (or Enter) on a header sorts its table by that column, again to reverse. */
const SCRIPT = `document.querySelectorAll('table.sortable th').forEach(function (th) {
  function sort() {
    var table = th.closest('table'), body = table.tBodies[0], col = +th.dataset.col;
    var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    function key(tr) { var td = tr.cells[col], v = td.dataset.sort !== undefined ? td.dataset.sort : td.textContent; var n = parseFloat(v); return isNaN(n) || String(n) !== String(+v) ? v : n; }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) { var x = key(a), y = key(b); var c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)); return dir === 'ascending' ? c : -c; });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  th.addEventListener('click', sort);
  th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sort(); });
});`;

/** The page. */
export async function buildHtmlReport(studyDir: string, records: RunRecord[], o: HtmlReportOptions): Promise<string> {
  const predictions = o.predictions ?? new TestPredictions(studyDir);
  const tables = buildTables(records, { modelOrder: o.modelOrder, predictions }).filter((t) => t.rows.length > 0);
  const rocs: string[] = [];
  for (const f of buildRocFigures(records, { modelOrder: o.modelOrder, title: o.title })) rocs.push(svgImg(await renderRocSvg(f), f.title));
  const reliability: string[] = [];
  for (const f of buildReliabilityFigures(records, predictions, { modelOrder: o.modelOrder, title: o.title })) {
    reliability.push(`<figure class="reliability">${svgImg(await renderReliabilitySvg(f), reliabilityAlt(f))}</figure>`);
  }
  const reliabilityHtml =
    '<h3>Reliability diagrams</h3>' +
    (reliability.length > 0
      ? `<p class="caption">Each configuration's test predictions, its runs pooled: accuracy of the images in each of ${CALIBRATION_BINS} equal-width bins of top-label confidence against the diagonal of perfect calibration; the histogram underneath counts the images per bin. ECE as in the tables (there: per run, then the mean).</p><div class="figures">${reliability.join('\n')}</div>`
      : '<p>No test predictions (predictions.csv) in the run folders.</p>');
  const confusion = await confusionSvg(records);
  const sections: [string, string, string][] = [
    ['tables', 'Tables', tables.length > 0 ? tables.map(paperTableHtml).join('\n') : '<p>No finished runs.</p>'],
    ...(o.cv ? [['cv', 'Cross-validation', foldsHtml(o.cv)] as [string, string, string]] : []),
    ['statistics', 'Comparisons', comparisonsHtml(o.statistics)],
    ['roc', 'ROC curves and calibration', `${rocs.length > 0 ? rocs.join('\n') : '<p>No test runs with two classes.</p>'}\n${reliabilityHtml}`],
    ['confusion', 'Confusion matrices', confusion ? `<p class="caption">Test images of each run: rows are the true class, columns the predicted one.</p>${svgImg(confusion, 'confusion matrices')}` : '<p>No test runs.</p>'],
    ['cam', 'LayerCAM', camHtml(studyDir)],
    ['runs', 'Runs', `<p class="caption">Each run's learning curves (metrics.jsonl) and config.json.</p>${await runsHtml(studyDir, records)}`],
    ['model-cards', 'Model cards', '<p><a href="model-cards.md">model-cards.md</a>: what the runs share (data, split, recipe) and, for each configuration, a link to each run\'s model-card.md (data, training, test metrics with 95% intervals, calibration).</p>'],
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<link rel="icon" href="data:,">',
    `<title>${esc(o.title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${esc(o.title)}</h1>`,
    `<p class="caption">${records.length} report row(s) from the finished runs of this study folder. Every figure and table is in this file; it needs no network.</p>`,
    `<nav>${sections.map(([id, name]) => `<a href="#${id}">${esc(name)}</a>`).join('')}</nav>`,
    ...sections.map(([id, name, body]) => `<section id="${id}"><h2>${esc(name)}</h2>\n${body}\n</section>`),
    `<script>${SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** Writes <reportDir>/index.html; returns its path. */
export async function writeHtmlReport(studyDir: string, reportDir: string, records: RunRecord[], o: HtmlReportOptions): Promise<string> {
  const path = join(reportDir, 'index.html');
  writeFileAtomic(path, await buildHtmlReport(studyDir, records, o));
  return path;
}
