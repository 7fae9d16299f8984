// report/index.html in a real browser: headless Chromium (Debian's `chromium`) through
// puppeteer-core opens the page of a small study (3-fold cross-validation of **, *, +, ++
// and SWFT step 2, with LayerCAM figures) from disk. No console or page errors, no network
// request, every image loads, the tables hold the values of tables.json and statistics.json
// (the ECE and Brier columns included), the cross-validation tables hold each fold's
// final.json metrics and the pooled out-of-fold predictions of every target image once,
// the reliability diagrams are shown, and sorting works; a
// screenshot is saved. Skips visibly where Chromium is missing; fails in CI,
// where .ci/run installs it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { StudyStatistics } from '../../lib/report/comparisons.js';
import type { FoldsReport } from '../../lib/report/folds.js';
import type { ReportJson } from '../../lib/report/index.js';
import { brierScore, calibrationError, multiclassBrier } from '../../lib/stats/calibration.js';
import { readPredictions } from '../../lib/train/predictions.js';
import { tempDir } from '../helpers/images.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { makeTestStudy } from '../helpers/study.js';

type Inspect = (html: string, o?: { screenshot?: string; sortTable?: string; sortColumn?: number }) => Promise<{
  consoleErrors: string[];
  pageErrors: string[];
  network: string[];
  tables: Record<string, { head: string[]; rows: string[][] }>;
  images: { alt: string; loaded: boolean }[];
  sorted: { ascending: string[]; descending: string[]; ariaAsc: string; ariaDesc: string } | null;
  title: string;
}>;
const browser = (await import(join(ROOT, 'scripts', 'report-browser.mjs'))) as { chromiumPath: () => string | null; inspectReport: Inspect };

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const cli = (args: string[]): Promise<ProcessResult> => runProcess(process.execPath, [BIN, ...args]);
const why = browser.chromiumPath() ? null : 'no Chromium (Debian: apt install chromium, or THTL_CHROMIUM=/path)';
if (why) {
  if (process.env.CI) throw new Error(`the HTML report browser test cannot run in CI: ${why}`);
  process.stderr.write(`[skip] HTML report in a browser: ${why}\n`);
}

let dir = '';

describe.skipIf(why !== null)('report/index.html in headless Chromium', () => {
  beforeAll(async () => {
    const { config } = await makeTestStudy('html-data', {
      name: 'html report test',
      experiments: [{ protocols: ['1', '3', '4', 'swft'], models: ['resnet18'], steps: [2] }],
      images: 30,
      runs: 3,
      folds: 3,
      epochs: 2,
    });
    dir = tempDir('html-study');
    const r = await cli(['reproduce', '--config', config, '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const run = (u: string) => join(dir, 'runs', 'resnet18', 'fold-1', u);
    const cam = await cli(['cam', '--run', run('expt1'), '--compare', run('plusplus'), '--split', 'test', '--limit', '2', '--out', join(dir, 'cam'), '--threads', '1']);
    expect(cam.code, cam.stderr).toBe(0);
    const rep = await cli(['report', dir, '--html']);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toContain('report/index.html');
  }, 240_000);

  it('opens from disk with no error and no network; tables hold the report values; sorting works', async () => {
    const html = join(dir, 'report', 'index.html');
    const screenshot = join(dir, 'report', 'screenshot.png');
    const page = await browser.inspectReport(html, { screenshot, sortTable: 'comparisons', sortColumn: 5 });
    process.stdout.write(`html report screenshot: ${screenshot}\n`);
    expect(page.title).toBe('html report test');
    expect(page.consoleErrors).toEqual([]);
    expect(page.pageErrors).toEqual([]);
    expect(page.network).toEqual([]);
    expect(page.images.filter((i) => !i.loaded)).toEqual([]);
    // ROC figures, confusion matrices, LayerCAM (2 images) and learning curves of each run folder
    expect(page.images.filter((i) => i.alt.startsWith('LayerCAM of'))).toHaveLength(2);
    expect(page.images.some((i) => i.alt === 'confusion matrices')).toBe(true);
    expect(page.images.filter((i) => i.alt.startsWith('learning curves of'))).toHaveLength(15); // 3 folds x 5 run folders: **, *, +, ++ (= SWFT step 1), SWFT step 2
    expect(existsSync(screenshot)).toBe(true);

    // every numeric mean of tables.json, formatted as the tables do, in its row and column
    const report = JSON.parse(readFileSync(join(dir, 'report', 'tables.json'), 'utf8')) as ReportJson;
    for (const t of report.tables) {
      const shown = page.tables[t.id]!;
      expect(shown.rows).toHaveLength(t.rows.length);
      t.rows.forEach((row, i) => {
        const cells = shown.rows[i]!;
        expect(cells).toContain(row.label);
        for (const c of t.columns) {
          if (typeof c.format !== 'number') continue;
          const s = row.metrics[c.key];
          expect(cells[shown.head.indexOf(c.header)], `${t.id} ${row.label} ${c.header}`).toBe(s ? s.mean.toFixed(c.format) : 'n/a');
        }
      });
    }
    // calibration: ECE and Brier columns (checked against tables.json above), each run's
    // value recomputed from its predictions.csv, and a reliability diagram per configuration
    const t3 = report.tables.find((t) => t.id === 'table3')!;
    expect(t3.columns.slice(-2).map((c) => c.header)).toEqual(['ECE', 'Brier']);
    expect(page.tables.table3!.head.slice(-2)).toEqual(['ECE', 'Brier']);
    const expt1 = t3.rows[0]!;
    const recomputed = expt1.runs.map((run) => {
      const { classes } = JSON.parse(readFileSync(join(dir, run.dir, 'final.json'), 'utf8')) as { classes: string[] };
      const test = readPredictions(join(dir, run.dir, 'predictions.csv'), classes).filter((p) => p.split === 'test');
      const [probs, labels] = [test.map((p) => p.probs), test.map((p) => p.label)];
      return [calibrationError(probs, labels, { bins: 15 }), classes.length === 2 ? brierScore(probs, labels) : multiclassBrier(probs, labels)];
    });
    expect(expt1.metrics.ece!.values).toEqual(recomputed.map((x) => x[0]));
    expect(expt1.metrics.brier!.values).toEqual(recomputed.map((x) => x[1]));
    const reliability = page.images.filter((i) => i.alt.startsWith('reliability diagram of'));
    expect(report.reliability!.length).toBeGreaterThanOrEqual(4); // **, *, ++, SWFT steps
    expect(reliability.map((i) => i.alt.slice('reliability diagram of '.length).split(':')[0])).toEqual(report.reliability!.map((f) => f.label));
    expect(reliability.every((i) => i.loaded)).toBe(true);
    for (const f of report.reliability!) expect(existsSync(join(dir, 'report', `${f.figure}.svg`)), f.figure).toBe(true);

    // cross-validation: per configuration (**, *, ++, SWFT step 2) a table of its 3
    // folds (each fold's final.json) with a mean ± std row, and the pooled out-of-fold
    // predictions: the 30 target images, each once
    const cv = JSON.parse(readFileSync(join(dir, 'report', 'cv.json'), 'utf8')) as FoldsReport;
    expect(cv.folds).toBe(3);
    expect(cv.configurations.map((c) => c.label)).toEqual(['resnet18**', 'resnet18*', 'resnet18++', 'Step 2']);
    cv.configurations.forEach((c, i) => {
      const shown = page.tables[`cv-${i + 1}`]!;
      expect(shown.rows).toHaveLength(4);
      expect(c.summary.perFold.map((f) => f.fold)).toEqual([1, 2, 3]);
      c.summary.perFold.forEach((f, k) => {
        expect(f.dir).toContain(`/fold-${k + 1}/`);
        const final = JSON.parse(readFileSync(join(dir, f.dir, 'final.json'), 'utf8')) as { test: { accuracy: number; n: number } };
        expect(f.accuracy).toBe(final.test.accuracy);
        expect(shown.rows[k]![shown.head.indexOf('Accuracy')]).toBe(final.test.accuracy.toFixed(4));
      });
      expect(shown.rows[3]![0]).toBe('mean ± std');
      expect(c.summary.perFold.reduce((a, f) => a + f.images, 0)).toBe(30);
      expect(c.summary.pooled.n).toBe(30);
      const pooled = page.tables[`cv-pooled-${i + 1}`]!;
      expect(pooled.rows[0]).toEqual(['accuracy', `${c.summary.pooled.accuracy.estimate.toFixed(4)} [${c.summary.pooled.accuracy.lo.toFixed(4)}, ${c.summary.pooled.accuracy.hi.toFixed(4)}]`]);
    });
    const testFiles = cv.configurations[0]!.summary.perFold.flatMap((f) =>
      readPredictions(join(dir, f.dir, 'predictions.csv'), cv.configurations[0]!.classes).filter((p) => p.split === 'test').map((p) => p.file),
    );
    expect(new Set(testFiles).size).toBe(30);

    // the comparisons of statistics.json, row for row
    const stats = JSON.parse(readFileSync(join(dir, 'report', 'statistics.json'), 'utf8')) as StudyStatistics;
    const names = [...new Set(stats.comparisons.map((c) => c.comparison))].sort();
    expect(names).toEqual(['* vs ++', '** vs ++', 'SWFT step 2 vs step 1']);
    // sorted by the accuracy difference: ascending, then descending
    const diffs = stats.comparisons.map((c) => c.accuracy.difference.estimate);
    const asc = page.sorted!.ascending.map(Number);
    expect(asc).toEqual([...diffs].sort((a, b) => a - b));
    expect(page.sorted!.descending.map(Number)).toEqual([...diffs].sort((a, b) => b - a));
    expect([page.sorted!.ariaAsc, page.sorted!.ariaDesc]).toEqual(['ascending', 'descending']);
    expect(page.tables.comparisons!.rows).toHaveLength(stats.comparisons.length);
    expect(page.tables['run-intervals']!.rows).toHaveLength(stats.intervals.length);
  }, 120_000);
});
