// The study report: paper-shaped tables (Markdown, CSV, JSON) and ROC figures (SVG, PNG)
// from the finished runs' RunRecords. Pure TypeScript; docs/REPORTS.md describes it.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { RunRecord } from '../experiment/types.js';
import { writeFileAtomic } from '../util/runfolder.js';
import { foldsReportMarkdown, type FoldsReport } from './folds.js';
import { buildModelCards, MODEL_CARDS_FILE } from './model-cards.js';
import { buildReliabilityFigures, renderReliabilitySvg, type ReliabilityFigure } from './reliability.js';
import { buildRocFigures, renderRoc, type RocFigure } from './roc.js';
import { buildTables, tablesToMarkdown, tableToCsv, type PaperTable } from './tables.js';
import { TestPredictions } from './test-predictions.js';

export { summarize, tCritical95, type Summary } from './aggregate.js';
export { renderCamFigure, camFigureLayout, jet, overlayJet, type CamRow, type CamFigureOptions, type CamLayout } from './cam-figure.js';
export { encodeNpy, writeNpy } from './npy.js';
export { buildRocFigures, renderRoc, rocSpec, selectRocRun, type RocFigure, type RocCurveEntry } from './roc.js';
export { buildReliabilityFigures, renderReliabilitySvg, reliabilitySpec, type ReliabilityFigure } from './reliability.js';
export { TestPredictions, calibrationOf, type RunCalibration } from './test-predictions.js';
export { buildTable, buildTables, tablesToMarkdown, tableToCsv, tableToMarkdown, type PaperTable, type TableRow, type TableId } from './tables.js';

export interface ReportOptions {
  /** models in this order first, the rest alphabetically */
  modelOrder?: string[];
  /** heading of tables.md and a subtitle line on each figure */
  title?: string;
  /**
   * The study folder the records' `dir`s are relative to: with it (or `predictions`) the
   * report adds calibration (ECE and Brier columns, reliability-<config>.svg) from each
   * run's predictions.csv, and model-cards.md linking each run's model card.
   */
  studyDir?: string;
  /** the test predictions to use (shared with the statistics so each file is read once); overrides studyDir */
  predictions?: TestPredictions;
  /** a study with folds: its cross-validation summary (buildFoldsReport, folds.ts), written as cv.md and cv.json */
  cv?: FoldsReport;
}

/** tables.json: the tables with every Summary (per-run values included) and the run chosen for each ROC curve. */
export interface ReportJson {
  title: string;
  runs: number;
  tables: PaperTable[];
  roc: {
    figure: string;
    title: string;
    curves: { label: string; model: string; step: number | null; run: number; seed: number; dir: string; accuracy: number; meanAccuracy: number; groupSize: number; auc: number }[];
  }[];
  /** with predictions only: one entry per reliability figure */
  reliability?: { figure: string; label: string; stage: string; model: string; step: number | null; runs: string[]; images: number; ece: number }[];
}

function reportJson(title: string, records: readonly RunRecord[], tables: PaperTable[], figures: RocFigure[], reliability: ReliabilityFigure[] | null): ReportJson {
  const json: ReportJson = {
    title,
    runs: records.length,
    tables: tables.filter((t) => t.rows.length > 0),
    roc: figures.map((f) => ({
      figure: `roc-${f.name}`,
      title: f.title,
      curves: f.curves.map(({ fpr: _fpr, tpr: _tpr, ...rest }) => rest),
    })),
  };
  if (reliability) {
    json.reliability = reliability.map((f) => ({ figure: `reliability-${f.name}`, label: f.label, stage: f.stage, model: f.model, step: f.step, runs: f.runs, images: f.images, ece: f.ece }));
  }
  return json;
}

/**
 * All report files, keyed by file name relative to the report folder, in a fixed order:
 * tables.md, tables.json, table3..6.csv (tables with rows only), then roc-<figure>.svg and
 * .png for each figure with a curve; with `studyDir` or `predictions`, reliability-<config>.svg
 * for each configuration with test predictions and model-cards.md, and with `cv`,
 * cv.md and cv.json. The same records give the same bytes.
 */
export async function buildReport(records: RunRecord[], opts: ReportOptions = {}): Promise<Map<string, string | Buffer>> {
  const title = opts.title ?? 'Results';
  const predictions = opts.predictions ?? (opts.studyDir !== undefined ? new TestPredictions(opts.studyDir) : undefined);
  const tables = buildTables(records, { modelOrder: opts.modelOrder, ...(predictions ? { predictions } : {}) });
  const figures = buildRocFigures(records, { modelOrder: opts.modelOrder, title: opts.title });
  const reliability = predictions ? buildReliabilityFigures(records, predictions, { modelOrder: opts.modelOrder, title: opts.title }) : null;
  const files = new Map<string, string | Buffer>();
  files.set('tables.md', tablesToMarkdown(tables, title));
  files.set('tables.json', `${JSON.stringify(reportJson(title, records, tables, figures, reliability), null, 2)}\n`);
  for (const t of tables) if (t.rows.length > 0) files.set(`${t.id}.csv`, tableToCsv(t));
  for (const f of figures) {
    const { svg, png } = await renderRoc(f);
    files.set(`roc-${f.name}.svg`, svg);
    files.set(`roc-${f.name}.png`, png);
  }
  for (const f of reliability ?? []) files.set(`reliability-${f.name}.svg`, await renderReliabilitySvg(f));
  if (predictions) files.set(MODEL_CARDS_FILE, buildModelCards(predictions.studyDir, records, { title, modelOrder: opts.modelOrder ?? [] }));
  if (opts.cv) {
    files.set('cv.md', foldsReportMarkdown(opts.cv));
    files.set('cv.json', `${JSON.stringify(opts.cv, null, 2)}\n`);
  }
  return files;
}

/** Names this module writes; a report file of an earlier build that the new one lacks is removed. */
const REPORT_FILE = /^(tables\.md|tables\.json|cv\.md|cv\.json|table[3-6]\.csv|roc-.+\.(svg|png)|reliability-.+\.svg|model-cards\.md)$/;

/**
 * Builds the report and writes each file atomically into `outDir` (created if missing);
 * report files left from an earlier build that this one does not produce are deleted, so
 * the folder always matches the runs. Returns the paths written.
 */
export async function writeReport(outDir: string, records: RunRecord[], opts: ReportOptions = {}): Promise<string[]> {
  const files = await buildReport(records, opts);
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (REPORT_FILE.test(f) && !files.has(f)) rmSync(join(dir, f), { force: true });
  const written: string[] = [];
  for (const [name, data] of files) {
    const path = join(dir, name);
    writeFileAtomic(path, data);
    written.push(path);
  }
  return written;
}
