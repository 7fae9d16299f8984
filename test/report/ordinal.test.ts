// Graded labels in the report tables: runs of an ordinal dataset with more than two classes
// gain the details-only columns `kappa` (quadratic weighted) and `auc_ovr_<k>` (one-vs-rest
// AUC per class), from each run's predictions.csv test rows; other tables are unchanged.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { RunRecord } from '../../lib/experiment/types.js';
import { buildHtmlReport } from '../../lib/report/html.js';
import { buildTable, tablesToMarkdown, tableToCsv } from '../../lib/report/tables.js';
import { TestPredictions } from '../../lib/report/test-predictions.js';
import { DEFAULT_BOOTSTRAP } from '../../lib/stats/bootstrap.js';
import { argmax, oneVsRestAuc, quadraticWeightedKappa } from '../../lib/stats/metrics.js';
import { predictionsCsv, readPredictions, type Prediction } from '../../lib/train/predictions.js';
import { tempDir } from '../helpers/images.js';
import { cell, record } from './fixtures.js';

const GRADES = ['0', '1', '2'];

/** The hand-computed case: true 0, 1, 2, 2; predicted 0, 2, 2, 1. */
const SMALL: [number, number[]][] = [
  [0, [0.7, 0.2, 0.1]],
  [1, [0.1, 0.3, 0.6]],
  [2, [0.1, 0.2, 0.7]],
  [2, [0.2, 0.5, 0.3]],
];

/** Deterministic test rows over `k` grades, mostly right, some a grade or two off. */
function rows(seed: number, k: number, n = 30): [number, number[]][] {
  return Array.from({ length: n }, (_, i) => {
    const label = (i * 7 + seed) % k;
    const off = (i + seed) % 4 === 0 ? 1 : (i + seed) % 9 === 0 ? 2 : 0;
    const picked = Math.min(k - 1, label + off);
    const top = 0.4 + (((i * 13 + seed) % 10) / 10) * 0.5;
    return [label, Array.from({ length: k }, (_, c) => (c === picked ? top : (1 - top) / (k - 1)))];
  });
}

function writeRun(study: string, r: RunRecord, test: [number, number[]][]): void {
  const preds: Prediction[] = test.map(([label, probs], i) => ({ split: 'test', file: `img${i}.png`, group: '', label, probs, predicted: argmax(probs) }));
  mkdirSync(join(study, r.dir), { recursive: true });
  writeFileSync(join(study, r.dir, 'predictions.csv'), predictionsCsv(r.classes, preds));
}

function ordinal(r: RunRecord): RunRecord {
  return { ...r, ordinal: true };
}

describe('graded labels in the report tables', () => {
  const study = tempDir('ordinal-study');
  const graded = [1, 2, 3].map((run) => ordinal(record('expt1', 'vgg19', run, { classes: GRADES })));
  const nominal = [1, 2].map((run) => record('expt2', 'vgg19', run, { classes: GRADES })); // three classes, not ordinal
  writeRun(study, graded[0]!, SMALL);
  writeRun(study, graded[1]!, rows(2, 3));
  writeRun(study, graded[2]!, rows(5, 3));
  nominal.forEach((r, i) => writeRun(study, r, rows(7 + i, 3)));
  const predictions = new TestPredictions(study);
  const t3 = buildTable('table3', [...graded, ...nominal], { predictions });

  it('kappa and per-class one-vs-rest AUC of each run\'s test rows; a hand-computed case', () => {
    expect(t3.columns.slice(-6).map((c) => c.key)).toEqual(['ece', 'brier', 'kappa', 'auc_ovr_0', 'auc_ovr_1', 'auc_ovr_2']);
    expect(t3.columns.slice(-4).map((c) => c.header)).toEqual(['QW kappa', 'AUC 0 vs rest', 'AUC 1 vs rest', 'AUC 2 vs rest']);
    expect(t3.columns.filter((c) => c.key === 'kappa' || c.key.startsWith('auc_ovr_')).every((c) => c.detailsOnly)).toBe(true);
    const kappa = cell(t3, 'vgg19**', 'kappa')!;
    // each run's value is quadraticWeightedKappa of the same rows, read back from predictions.csv
    const want = graded.map((r) => {
      const test = readPredictions(join(study, r.dir, 'predictions.csv'), r.classes).filter((p) => p.split === 'test');
      return {
        kappa: quadraticWeightedKappa(test.map((p) => p.label), test.map((p) => argmax(p.probs)), 3),
        ovr: oneVsRestAuc(test.map((p) => p.probs), test.map((p) => p.label)),
      };
    });
    expect(kappa.values).toEqual(want.map((w) => w.kappa));
    expect(kappa.n).toBe(3);
    for (let k = 0; k < 3; k++) expect(cell(t3, 'vgg19**', `auc_ovr_${k}`)!.values).toEqual(want.map((w) => w.ovr[k]));
    // by hand: O has (0,0), (1,2), (2,2), (2,1); sum w*O = 2; marginals [1,1,2] both ways, sum w*E = 22/4
    expect(kappa.values[0]).toBeCloseTo(1 - 2 / 5.5, 12); // 7/11
    // class 0: 1; class 1: .3 beats .2, .2, not .5 -> 2/3; class 2: .7 beats .1, .6; .3 beats .1 -> 3/4
    expect(cell(t3, 'vgg19**', 'auc_ovr_0')!.values[0]).toBe(1);
    expect(cell(t3, 'vgg19**', 'auc_ovr_1')!.values[0]).toBeCloseTo(2 / 3, 12);
    expect(cell(t3, 'vgg19**', 'auc_ovr_2')!.values[0]).toBeCloseTo(3 / 4, 12);
  });

  it('rows of runs that are not ordinal show n/a; Markdown details, CSV and HTML carry the columns', async () => {
    expect(cell(t3, 'vgg19^', 'kappa')).toBeNull();
    expect(cell(t3, 'vgg19^', 'auc_ovr_1')).toBeNull();
    expect(cell(t3, 'vgg19^', 'ece')).not.toBeNull();
    const md = tablesToMarkdown([t3]);
    const mainHead = md.split('\n').find((l) => l.startsWith('| Expt. | Model | Epoch'))!;
    expect(mainHead.endsWith('| AUC |')).toBe(true);
    const detailHead = md.split('\n').find((l) => l.startsWith('| Expt. | Model | Runs'))!;
    expect(detailHead.endsWith('| ECE | Brier | QW kappa | AUC 0 vs rest | AUC 1 vs rest | AUC 2 vs rest |')).toBe(true);
    expect(md).toContain('quadratic weighted kappa of the predicted class against the true one');
    const k = cell(t3, 'vgg19**', 'kappa')!;
    const detail = md.slice(md.indexOf('Details')).split('\n').find((l) => l.includes('| vgg19\\*\\* |'))!;
    expect(detail).toContain(`| ${k.mean.toFixed(3)} ± ${k.std!.toFixed(3)} [${k.ci95![0].toFixed(3)}, ${k.ci95![1].toFixed(3)}] |`);
    const csv = tableToCsv(t3).split('\n');
    expect(csv[0]!.endsWith(',brier_n,kappa_mean,kappa_std,kappa_ci_lo,kappa_ci_hi,kappa_n,auc_ovr_0_mean,auc_ovr_0_std,auc_ovr_0_ci_lo,auc_ovr_0_ci_hi,auc_ovr_0_n,auc_ovr_1_mean,auc_ovr_1_std,auc_ovr_1_ci_lo,auc_ovr_1_ci_hi,auc_ovr_1_n,auc_ovr_2_mean,auc_ovr_2_std,auc_ovr_2_ci_lo,auc_ovr_2_ci_hi,auc_ovr_2_n')).toBe(true);
    const statistics = { bootstrap: DEFAULT_BOOTSTRAP, intervals: [], comparisons: [], skipped: [] };
    const html = await buildHtmlReport(study, [...graded, ...nominal], { title: 'Graded', modelOrder: [], statistics });
    expect(html).toContain('<th data-col="15" tabindex="0">QW kappa</th>');
    expect(html).toContain(`data-sort="${k.mean}"`);
  });

  it('no column without an ordinal run of more than two classes, or without predictions: those tables are as before', () => {
    const plain = buildTable('table3', nominal, { predictions });
    expect(plain.columns.slice(-2).map((c) => c.key)).toEqual(['ece', 'brier']);
    expect(tablesToMarkdown([plain])).not.toContain('kappa');
    // an ordinal binary task: kappa adds nothing to the AUC of two classes
    const dir = tempDir('ordinal-binary');
    const two = [1, 2].map((run) => ordinal(record('expt1', 'bin', run)));
    two.forEach((r, i) => writeRun(dir, r, rows(i, 2)));
    const binary = buildTable('table3', two, { predictions: new TestPredictions(dir) });
    const without = buildTable('table3', two.map(({ ordinal: _, ...r }) => r), { predictions: new TestPredictions(dir) });
    expect(tablesToMarkdown([binary])).toBe(tablesToMarkdown([without]));
    expect(tableToCsv(binary)).toBe(tableToCsv(without));
    // without the study folder's predictions, the columns cannot be computed and are left out
    expect(buildTable('table3', graded).columns.map((c) => c.key)).not.toContain('kappa');
  });
});
