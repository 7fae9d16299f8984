// The paper's result tables built from finished runs: Table 3 (Expt.#1 `**`,
// Expt.#2 `^`), Table 4 (Expt.#3 `*`, Expt.#4 `++`), Table 5 (the `+` models on the
// intermediate domain) and Table 6 (SWFT steps and LoRA steps per model). Each row is one
// (stage, model, step) group of repeated runs; every cell is a Summary over those runs.
// With the runs' test predictions, Tables 3, 4 and 6 gain details-only columns: calibration
// (ECE, Brier), and where runs of an ordinal dataset of more than two classes are shown,
// quadratic weighted kappa and the one-vs-rest AUC of each class.
// Which stages each table shows, and their marks, come from the protocol rows
// (experiment/protocols.ts).
// Output: Markdown (means, plus a "mean ± std [95% CI]" details table), CSV (one file per
// table) and JSON (everything, per-run values and seeds included). Nothing here depends on
// the clock or on the order the records arrive in, so the same runs give the same bytes.
import { csvCell } from '../data/csv.js';
import { stageRow, tableStages, type TableId } from '../experiment/protocols.js';
import type { RunRecord, Stage } from '../experiment/types.js';
import type { ClassMetrics } from '../stats/metrics.js';
import { summarize, type Summary } from './aggregate.js';
import type { TestPredictions } from './test-predictions.js';

export type { TableId };

export interface MetricColumn {
  /** stable key: CSV column prefix and JSON field */
  key: string;
  /** column header in Markdown */
  header: string;
  /** how the mean is shown: 'ceil' rounds up to an integer (the paper's epochs), 'int' rounds to an integer with digit grouping, a number is the decimals */
  format: 'ceil' | 'int' | number;
  /** decimals of mean/std/interval in the details table */
  detailDigits: number;
  /** larger is better: the best mean in each block is set in bold */
  best: boolean;
  /** not in the Markdown main table (the paper's columns), only in its details, the CSV, the JSON and the HTML table: the calibration columns */
  detailsOnly?: boolean;
}

export interface RunRef {
  run: number;
  seed: number;
  dir: string;
  epochsRun: number;
  bestEpoch: number;
  /** null for + runs (no test split) */
  testAccuracy: number | null;
}

export interface TableRow {
  stage: Stage;
  model: string;
  /** SWFT / LoRA step; null for the other stages */
  step: number | null;
  /** Expt.#1 ... or SWFT / LoRA */
  expt: string;
  /** row label as shown: `resnet50**` for Tables 3-5, `Step 3` / `Step 3 (LoRA)` for Table 6 */
  label: string;
  /** number of runs and their identity, ordered by run index */
  n: number;
  runs: RunRef[];
  /** mean epochs run, rounded up (the paper's "Epoch" column) */
  epoch: number;
  /** one Summary per column key; null where no run has a value (e.g. AUC undefined) */
  metrics: Record<string, Summary | null>;
}

export interface PaperTable {
  id: TableId;
  /** heading, e.g. "Table 3. Results of Expt.#1 (**) and Expt.#2 (^)" */
  title: string;
  /** one-line caption below the heading */
  caption: string;
  /** class names used for the B / M columns (index 0 and 1); empty for Table 5 */
  classes: string[];
  columns: MetricColumn[];
  rows: TableRow[];
}

export interface TableOptions {
  /** models in this order first; the rest alphabetically */
  modelOrder?: readonly string[];
  /**
   * The study folder's test predictions: with them Tables 3, 4 and 6 gain the calibration
   * columns `ece` and `brier` of each run's predictions.csv test rows, after the others;
   * and, when a row's runs are ordinal with more than two classes, `kappa` and
   * `auc_ovr_<k>` (one per class index) after those.
   */
  predictions?: TestPredictions;
}

type Extract = (r: RunRecord) => number | null;

function cls(r: RunRecord, i: number): ClassMetrics | undefined {
  return r.test?.perClass[i];
}

const EXTRACT: Readonly<Record<string, Extract>> = {
  epochs: (r) => r.epochsRun,
  accuracy: (r) => r.test?.accuracy ?? null,
  precision_b: (r) => cls(r, 0)?.precision ?? null,
  precision_m: (r) => cls(r, 1)?.precision ?? null,
  precision_ma: (r) => r.test?.macro.precision ?? null,
  recall_b: (r) => cls(r, 0)?.recall ?? null,
  recall_m: (r) => cls(r, 1)?.recall ?? null,
  recall_ma: (r) => r.test?.macro.recall ?? null,
  f1_b: (r) => cls(r, 0)?.f1 ?? null,
  f1_m: (r) => cls(r, 1)?.f1 ?? null,
  auc: (r) => r.test?.auc ?? null,
  val_accuracy: (r) => r.valAccuracy,
  avg_epoch_seconds: (r) => r.avgEpochSeconds,
  trainable_params: (r) => r.trainableParams,
};

function testColumns(b: string, m: string): MetricColumn[] {
  const metric = (key: string, header: string): MetricColumn => ({ key, header, format: 3, detailDigits: 3, best: true });
  return [
    { key: 'epochs', header: 'Epoch', format: 'ceil', detailDigits: 1, best: false },
    metric('accuracy', 'Acc.'),
    metric('precision_b', `Precision ${b}`),
    metric('precision_m', `Precision ${m}`),
    metric('precision_ma', 'Precision macro'),
    metric('recall_b', `Recall ${b}`),
    metric('recall_m', `Recall ${m}`),
    metric('recall_ma', 'Recall macro'),
    metric('f1_b', `F1 ${b}`),
    metric('f1_m', `F1 ${m}`),
    metric('auc', 'AUC'),
  ];
}

/** Calibration of the test predictions (lower is better, so never bold): after the paper's columns, details only in Markdown. */
const CALIBRATION_COLUMNS: MetricColumn[] = [
  { key: 'ece', header: 'ECE', format: 3, detailDigits: 3, best: false, detailsOnly: true },
  { key: 'brier', header: 'Brier', format: 3, detailDigits: 3, best: false, detailsOnly: true },
];

/** Runs whose test predictions get the graded-label columns: an ordinal dataset of more than two classes, with a test split. */
function graded(r: RunRecord): boolean {
  return r.ordinal === true && r.classes.length > 2 && r.stage !== 'plus';
}

/**
 * Graded labels (details only): quadratic weighted kappa, then the one-vs-rest AUC of each
 * class (their mean is the AUC column). None when no run of the table is graded.
 */
function gradedColumns(records: readonly RunRecord[]): MetricColumn[] {
  const runs = records.filter(graded);
  if (runs.length === 0) return [];
  const k = Math.max(...runs.map((r) => r.classes.length));
  const first = runs[0]!.classes;
  const named = runs.every((r) => r.classes.length === k && r.classes.every((c, i) => c === first[i]));
  const column = (key: string, header: string): MetricColumn => ({ key, header, format: 3, detailDigits: 3, best: false, detailsOnly: true });
  return [
    column('kappa', 'QW kappa'),
    ...Array.from({ length: k }, (_, i) => column(`auc_ovr_${i}`, `AUC ${named ? first[i] : `class ${i}`} vs rest`)),
  ];
}

const TABLE5_COLUMNS: MetricColumn[] = [
  { key: 'epochs', header: 'Epoch', format: 'ceil', detailDigits: 1, best: false },
  { key: 'val_accuracy', header: 'Val. accuracy', format: 3, detailDigits: 3, best: true },
  { key: 'avg_epoch_seconds', header: 'Avg. time per epoch (s)', format: 1, detailDigits: 1, best: false },
];

const TITLES: Readonly<Record<TableId, string>> = {
  table3: 'Table 3. Results of Expt.#1 (**) and Expt.#2 (^)',
  table4: 'Table 4. Results of Expt.#3 (*) and Expt.#4 (++)',
  table5: 'Table 5. Intermediate results of the + models in Expt.#4',
  table6: 'Table 6. Step-wise fine-tuning (SWFT) versus LoRA on the ++ models',
};

const CAPTIONS: Readonly<Record<TableId, string>> = {
  table3:
    'Test set. ** ImageNet weights, all parameters trained; ^ random initialisation, all parameters trained. ' +
    'Mean over runs; Epoch is the mean number of epochs run, rounded up; macro = unweighted mean over the two classes.',
  table4:
    'Test set. * ImageNet weights, only the new head trained; ++ the + model (intermediate domain), only the new head trained. ' +
    'Mean over runs; Epoch is the mean number of epochs run, rounded up; macro = unweighted mean over the two classes.',
  table5:
    'Intermediate domain. Epoch: mean epochs run, rounded up; Val. accuracy at the best epoch; average seconds per epoch. Mean over runs.',
  table6:
    'Test set. Step k trains the first k groups of the + model (SWFT); Step k (LoRA) puts LoRA adapters on the same groups, base weights frozen. ' +
    'Mean over runs; Epoch rounded up; Trainable params = parameters updated in that step.',
};

/** Stable order of models: those in `modelOrder` first, in its order, then the rest alphabetically. */
export function orderModels(models: Iterable<string>, modelOrder: readonly string[] = []): string[] {
  const unique = [...new Set(models)];
  const rank = new Map<string, number>();
  modelOrder.forEach((m, i) => {
    if (!rank.has(m)) rank.set(m, i);
  });
  return unique.sort((a, b) => {
    const ra = rank.get(a);
    const rb = rank.get(b);
    if (ra !== undefined && rb !== undefined) return ra - rb;
    if (ra !== undefined) return -1;
    if (rb !== undefined) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** One (stage, model, step) group of runs, sorted by run index. */
export interface RunGroup {
  stage: Stage;
  model: string;
  step: number | null;
  records: RunRecord[];
}

function groupKey(stage: Stage, model: string, step: number | null): string {
  return `${stage}\u0000${model}\u0000${step ?? ''}`;
}

/**
 * Groups records by (stage, model, step), each group sorted by run index; groups in
 * stage order of `stages`, then model order, then step ascending. Throws on a SWFT/LoRA
 * record without a step and on the same run recorded twice.
 */
export function groupRuns(records: readonly RunRecord[], stages: readonly Stage[], modelOrder: readonly string[] = []): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const r of records) {
    if (!stages.includes(r.stage)) continue;
    const stepped = stageRow(r.stage)?.stepped !== undefined;
    if (stepped && (typeof r.step !== 'number' || !Number.isInteger(r.step))) {
      throw new Error(`run record ${r.dir || r.model} (stage ${r.stage}) has no step`);
    }
    const step = stepped ? (r.step as number) : null;
    const key = groupKey(r.stage, r.model, step);
    let g = groups.get(key);
    if (!g) {
      g = { stage: r.stage, model: r.model, step, records: [] };
      groups.set(key, g);
    }
    if (g.records.some((o) => o.run === r.run)) {
      throw new Error(`run ${r.run} of ${r.model} (stage ${r.stage}${step === null ? '' : `, step ${step}`}) is recorded twice (${r.dir})`);
    }
    g.records.push(r);
  }
  const models = orderModels(
    [...groups.values()].map((g) => g.model),
    modelOrder,
  );
  const out = [...groups.values()];
  for (const g of out) g.records.sort((a, b) => a.run - b.run);
  out.sort((a, b) => {
    const s = stages.indexOf(a.stage) - stages.indexOf(b.stage);
    if (s !== 0) return s;
    const m = models.indexOf(a.model) - models.indexOf(b.model);
    if (m !== 0) return m;
    return (a.step ?? 0) - (b.step ?? 0);
  });
  return out;
}

/** Mean epochs rounded up, immune to a mean of 30.000000000000004. */
function ceilMean(mean: number): number {
  return Math.ceil(mean - 1e-9);
}

/** A column's value of a run: from final.json, or (calibration, graded labels) from its test predictions. */
function extractor(key: string, predictions?: TestPredictions): Extract | undefined {
  if (!predictions) return EXTRACT[key];
  if (key === 'ece' || key === 'brier') return (r) => (r.stage === 'plus' ? null : (predictions.calibrationOf(r)?.[key] ?? null));
  if (key === 'kappa') return (r) => (graded(r) ? (predictions.gradedOf(r)?.kappa ?? null) : null);
  const ovr = /^auc_ovr_(\d+)$/.exec(key);
  if (ovr) return (r) => (graded(r) ? (predictions.gradedOf(r)?.ovrAuc[Number(ovr[1])] ?? null) : null);
  return EXTRACT[key];
}

function summarizeColumn(records: readonly RunRecord[], key: string, predictions?: TestPredictions): Summary | null {
  const extract = extractor(key, predictions);
  if (!extract) throw new Error(`no extractor for column ${key}`);
  const values = records.map(extract).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return values.length === 0 ? null : summarize(values);
}

function tableClasses(records: readonly RunRecord[]): string[] {
  const first = records[0]?.classes ?? [];
  const same = records.every((r) => r.classes[0] === first[0] && r.classes[1] === first[1]);
  return same && first.length >= 2 ? [first[0] as string, first[1] as string] : ['class 0', 'class 1'];
}

/** The paper's mark after the model name of a stage (`**`); '' for a name that is no stage. */
export function stageSuffix(stage: string): string {
  return stageRow(stage)?.suffix ?? '';
}

function rowLabel(table: TableId, g: RunGroup): string {
  if (table === 'table6') return `Step ${g.step}${stageRow(g.stage)?.stepped?.tag ?? ''}`;
  return `${g.model}${stageSuffix(g.stage)}`;
}

/** Builds one paper table (possibly with no rows). */
export function buildTable(id: TableId, records: readonly RunRecord[], opts: TableOptions = {}): PaperTable {
  const stages = tableStages(id);
  const groups = groupRuns(records, stages, opts.modelOrder);
  const used = groups.flatMap((g) => g.records);
  const classes = id === 'table5' ? [] : tableClasses(used);
  const columns =
    id === 'table5'
      ? TABLE5_COLUMNS
      : [
          ...testColumns(classes[0] as string, classes[1] as string),
          ...(id === 'table6' ? [{ key: 'trainable_params', header: 'Trainable params', format: 'int', detailDigits: 0, best: false } as MetricColumn] : []),
          ...(opts.predictions ? [...CALIBRATION_COLUMNS, ...gradedColumns(used)] : []),
        ];
  const rows = groups.map((g): TableRow => {
    const metrics: Record<string, Summary | null> = {};
    for (const c of columns) metrics[c.key] = summarizeColumn(g.records, c.key, opts.predictions);
    const epochs = metrics.epochs;
    return {
      stage: g.stage,
      model: g.model,
      step: g.step,
      expt: stageRow(g.stage)!.expt,
      label: rowLabel(id, g),
      n: g.records.length,
      runs: g.records.map((r) => ({
        run: r.run,
        seed: r.seed,
        dir: r.dir,
        epochsRun: r.epochsRun,
        bestEpoch: r.bestEpoch,
        testAccuracy: r.test?.accuracy ?? null,
      })),
      epoch: epochs ? ceilMean(epochs.mean) : 0,
      metrics,
    };
  });
  // a study with folds: the test rows are means over the folds (cv.md has each fold and the pooled predictions)
  const folded = id !== 'table5' && groups.length > 0 && groups.every((g) => g.records.every((r) => r.fold !== undefined));
  const caption = folded ? CAPTIONS[id].replace('Mean over runs', 'Mean over the folds (run k tested on fold k; cv.md: each fold and the pooled out-of-fold predictions)') : CAPTIONS[id];
  return { id, title: TITLES[id], caption, classes, columns, rows };
}

/** Tables 3-6 in order (with or without rows). */
export function buildTables(records: readonly RunRecord[], opts: TableOptions = {}): PaperTable[] {
  return (['table3', 'table4', 'table5', 'table6'] as const).map((id) => buildTable(id, records, opts));
}

// ---------------------------------------------------------------------------
// Formatting

/** Integer with comma thousands separators, independent of the locale. */
export function groupDigits(x: number): string {
  const s = String(Math.round(Math.abs(x)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return x < 0 && Math.round(Math.abs(x)) !== 0 ? `-${grouped}` : grouped;
}

/** The main-table text of a cell's mean. */
export function formatMean(s: Summary | null, c: MetricColumn): string {
  if (!s) return 'n/a';
  if (c.format === 'ceil') return String(ceilMean(s.mean));
  if (c.format === 'int') return groupDigits(s.mean);
  return s.mean.toFixed(c.format);
}

/** "mean ± std [lo, hi]" with the column's detail decimals; "mean (n=1; interval n/a)" for one run. */
export function formatDetail(s: Summary | null, c: MetricColumn): string {
  if (!s) return 'n/a';
  const d = c.detailDigits;
  const f = (x: number): string => (d === 0 ? groupDigits(x) : x.toFixed(d));
  if (s.std === null || s.ci95 === null) return `${f(s.mean)} (n=${s.n}; interval n/a)`;
  return `${f(s.mean)} ± ${f(s.std)} [${f(s.ci95[0])}, ${f(s.ci95[1])}]`;
}

/** Escapes Markdown punctuation so `resnet50**` stays literal inside a table. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|^~]/g, (ch) => `\\${ch}`);
}

function mdTable(header: string[], body: string[][], align: ('l' | 'r')[]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const sep = align.map((a) => (a === 'r' ? '---:' : ':---'));
  return [line(header), line(sep), ...body.map(line)].join('\n');
}

/** Rows grouped into blocks within which the best value is marked (an experiment, or one model's SWFT / LoRA steps). */
function blockOf(t: PaperTable, row: TableRow): string {
  return t.id === 'table6' ? `${row.model}\u0000${row.stage}` : row.stage;
}

function leadHeaders(t: PaperTable): string[] {
  if (t.id === 'table6') return ['Model', 'Step'];
  if (t.id === 'table5') return ['Model'];
  return ['Expt.', 'Model'];
}

function leadCells(t: PaperTable, row: TableRow, prev: TableRow | undefined): string[] {
  if (t.id === 'table6') return [prev && prev.model === row.model ? '' : escapeMarkdown(`${row.model}++`), escapeMarkdown(row.label)];
  if (t.id === 'table5') return [escapeMarkdown(row.label)];
  return [prev && prev.expt === row.expt ? '' : escapeMarkdown(row.expt), escapeMarkdown(row.label)];
}

/** Markdown of one table: heading, caption, the means (best per block in bold) and the details. */
export function tableToMarkdown(t: PaperTable): string {
  const best = new Map<string, string>(); // block + column -> best formatted mean
  for (const c of t.columns) {
    if (!c.best) continue;
    const blocks = new Map<string, TableRow[]>();
    for (const r of t.rows) blocks.set(blockOf(t, r), [...(blocks.get(blockOf(t, r)) ?? []), r]);
    for (const [block, rows] of blocks) {
      if (rows.length < 2) continue;
      const means = rows.map((r) => r.metrics[c.key]).filter((s): s is Summary => s !== null);
      if (means.length < 2) continue;
      const top = Math.max(...means.map((s) => Number(formatMean(s, c))));
      best.set(`${block}\u0000${c.key}`, top.toFixed(c.format as number));
    }
  }
  const lead = leadHeaders(t);
  const mainColumns = t.columns.filter((c) => !c.detailsOnly);
  const align = [...lead.map(() => 'l' as const), ...mainColumns.map(() => 'r' as const)];
  const main = mdTable(
    [...lead, ...mainColumns.map((c) => escapeMarkdown(c.header))],
    t.rows.map((r, i) => [
      ...leadCells(t, r, t.rows[i - 1]),
      ...mainColumns.map((c) => {
        const text = formatMean(r.metrics[c.key] ?? null, c);
        return best.get(`${blockOf(t, r)}\u0000${c.key}`) === text ? `**${text}**` : text;
      }),
    ]),
    align,
  );
  const details = mdTable(
    [...lead, 'Runs', 'Seeds', ...t.columns.map((c) => escapeMarkdown(c.header))],
    t.rows.map((r, i) => [
      ...leadCells(t, r, t.rows[i - 1]),
      String(r.n),
      r.runs.map((x) => x.seed).join(', '),
      ...t.columns.map((c) => formatDetail(r.metrics[c.key] ?? null, c)),
    ]),
    [...lead.map(() => 'l' as const), 'r', 'l', ...t.columns.map(() => 'r' as const)],
  );
  return [
    `## ${escapeMarkdown(t.title)}`,
    '',
    escapeMarkdown(t.caption),
    '',
    main,
    '',
    'Details: mean ± sample std [95% t-interval of the mean] over the runs; one run has neither (n/a).' +
      (t.columns.some((c) => c.detailsOnly)
        ? ' ECE (15 equal-width bins, top-label confidence) and Brier (two classes: the positive class; more: the multiclass sum) are the calibration of each run\'s test predictions (predictions.csv); lower is better.'
        : '') +
      (t.columns.some((c) => c.key === 'kappa')
        ? ' For runs of an ordinal dataset (graded labels) of more than two classes, from the same predictions: QW kappa, the quadratic weighted kappa of the predicted class against the true one (class indices as grades), and the one-vs-rest AUC of each class (the AUC column is their mean); n/a for other runs.'
        : ''),
    '',
    details,
    '',
  ].join('\n');
}

/** tables.md: every table that has rows. */
export function tablesToMarkdown(tables: readonly PaperTable[], title = 'Results'): string {
  const withRows = tables.filter((t) => t.rows.length > 0);
  const head = [
    `# ${escapeMarkdown(title)}`,
    '',
    'Each row is the mean of the repeated runs (seeds) of one configuration. Epochs are rounded up, ' +
      'as in the paper; the other means have three decimals. The best mean of each experiment block is in bold. ' +
      'Below each table: mean ± sample standard deviation and the two-sided 95% t-interval of the mean.',
    '',
  ];
  if (withRows.length === 0) return [...head, 'No finished runs.', ''].join('\n');
  return [...head, ...withRows.map(tableToMarkdown)].join('\n');
}

/** A configuration as the text names it: `resnet50**`, `resnet50++ step 3`, `resnet50++ step 3 (LoRA)`. */
export function configLabel(r: { model: string; stage: Stage; step?: number | null }): string {
  const step = r.step != null ? ` step ${r.step}${stageRow(r.stage)?.stepped?.tag ?? ''}` : '';
  return `${r.model}${stageSuffix(r.stage)}${step}`;
}

/** CSV of one table: identity columns, then per column key `_mean, _std, _ci_lo, _ci_hi, _n`. */
export function tableToCsv(t: PaperTable): string {
  const header = ['expt', 'stage', 'model', 'step', 'label', 'runs', 'seeds', 'epoch'];
  for (const c of t.columns) header.push(`${c.key}_mean`, `${c.key}_std`, `${c.key}_ci_lo`, `${c.key}_ci_hi`, `${c.key}_n`);
  const lines = [header.join(',')];
  for (const r of t.rows) {
    const cells: (string | number | null)[] = [r.expt, r.stage, r.model, r.step, r.label, r.n, r.runs.map((x) => x.seed).join(';'), r.epoch];
    for (const c of t.columns) {
      const s = r.metrics[c.key] ?? null;
      cells.push(s?.mean ?? null, s?.std ?? null, s?.ci95?.[0] ?? null, s?.ci95?.[1] ?? null, s?.n ?? 0);
    }
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}
