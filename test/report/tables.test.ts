import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../lib/experiment/types.js';
import { buildHtmlReport } from '../../lib/report/html.js';
import { buildReport } from '../../lib/report/index.js';
import { DEFAULT_BOOTSTRAP } from '../../lib/stats/bootstrap.js';
import { buildTable, buildTables, escapeMarkdown, orderModels, tablesToMarkdown, tableToCsv } from '../../lib/report/tables.js';
import { tempDir } from '../helpers/images.js';
import { record, study } from './fixtures.js';

/** The cells of the Markdown table line whose cells include `label` (first match after `after`). */
function mdRow(md: string, label: string, after = ''): string[] {
  const start = after ? md.indexOf(after) : 0;
  expect(start).toBeGreaterThanOrEqual(0);
  const line = md
    .slice(start)
    .split('\n')
    .find((l) => l.startsWith('|') && l.slice(1, -1).split(' | ').some((c) => c.trim() === label));
  expect(line, `row ${label}`).toBeDefined();
  return line!
    .slice(1, -1)
    .split(' | ')
    .map((c) => c.trim());
}

function csvRows(csv: string): Record<string, string>[] {
  const [head, ...lines] = csv.trimEnd().split('\n');
  const keys = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));
}

describe('paper tables', () => {
  const records = study();
  const tables = buildTables(records, { modelOrder: ['vgg19'] });
  const md = tablesToMarkdown(tables, 'Demo study');

  it('groups by stage, model and step in a stable order', () => {
    const [t3, t4, t5, t6] = tables;
    expect(t3!.rows.map((r) => r.label)).toEqual(['vgg19**', 'resnet50**', 'vgg19^', 'resnet50^']);
    expect(t4!.rows.map((r) => r.label)).toEqual(['vgg19*', 'resnet50*', 'vgg19++', 'resnet50++']);
    expect(t5!.rows.map((r) => r.label)).toEqual(['vgg19+', 'resnet50+']);
    expect(t6!.rows.map((r) => `${r.model}:${r.label}`)).toEqual([
      'resnet50:Step 1',
      'resnet50:Step 2',
      'resnet50:Step 1 (LoRA)',
      'resnet50:Step 2 (LoRA)',
    ]);
    // alphabetical without a model order
    expect(buildTable('table3', records).rows.map((r) => r.label)).toEqual(['resnet50**', 'vgg19**', 'resnet50^', 'vgg19^']);
    expect(orderModels(['b', 'a', 'c', 'a'], ['c'])).toEqual(['c', 'a', 'b']);
  });

  it('epochs are the mean rounded up', () => {
    const t3 = tables[0]!;
    expect(t3.rows[0]!.epoch).toBe(13); // 12, 13, 14
    expect(t3.rows[1]!.epoch).toBe(12); // 11, 11, 12 -> 11.33 -> 12
    expect(t3.rows[1]!.metrics.epochs!.mean).toBeCloseTo(34 / 3, 12);
  });

  it('Markdown: caption, headers with class names, exact cells', () => {
    expect(md.startsWith('# Demo study\n')).toBe(true);
    expect(md).toContain('## Table 3. Results of Expt.#1 (\\*\\*) and Expt.#2 (\\^)');
    expect(md).toContain('| Expt. | Model | Epoch | Acc. | Precision benign | Precision malignant | Precision macro | Recall benign |');
    const vgg = mdRow(md, 'vgg19\\*\\*');
    // Expt, Model, Epoch, Acc, P_B, P_M, P_MA, R_B, R_M, R_MA, F1_B, F1_M, AUC
    expect(vgg.slice(0, 4)).toEqual(['#1', 'vgg19\\*\\*', '13', '**0.900**']);
    // precision malignant: 4/4, 4/5, 4/6 -> 0.822; recall benign: 6/6, 5/6, 4/6 -> 0.833
    expect(vgg[5]).toBe('0.822');
    expect(vgg[7]).toBe('**0.833**');
    const res = mdRow(md, 'resnet50\\*\\*');
    expect(res.slice(0, 4)).toEqual(['', 'resnet50\\*\\*', '12', '**0.900**']);
    // details table: mean ± std [ci]
    const details = mdRow(md, 'vgg19\\*\\*', 'Details');
    expect(details[2]).toBe('3'); // runs
    expect(details[3]).toBe('1001, 1002, 1003');
    expect(details[5]).toBe('0.900 ± 0.100 [0.652, 1.148]'); // 0.9 ± 4.303 * 0.1 / sqrt(3)
    // Table 5 and Table 6
    expect(mdRow(md, 'vgg19+')).toEqual(['vgg19+', '13', '**0.720**', '3.0']);
    const step2 = mdRow(md, 'Step 2 (LoRA)');
    expect(step2[2]).toBe('12');
    expect(step2[3]).toBe('**0.867**');
    expect(step2[step2.length - 1]).toBe('207');
    expect(mdRow(md, 'Step 1')[0]).toBe('resnet50++');
  });

  it('CSV: mean, std, interval and n per metric', () => {
    const rows = csvRows(tableToCsv(tables[0]!));
    expect(rows).toHaveLength(4);
    const r = rows[1]!;
    expect(r).toMatchObject({ expt: '#1', stage: 'expt1', model: 'resnet50', step: '', label: 'resnet50**', runs: '3', seeds: '1001;1002;1003', epoch: '12' });
    expect(Number(r.accuracy_mean)).toBeCloseTo(0.9, 12);
    expect(Number(r.accuracy_std)).toBeCloseTo(Math.sqrt(0.03), 12); // (1, 1, 0.7)
    expect(Number(r.accuracy_ci_hi) - 0.9).toBeCloseTo((4.302653 * Math.sqrt(0.03)) / Math.sqrt(3), 5);
    expect(r.accuracy_n).toBe('3');
    expect(r.recall_m_mean).toBe('1');
    const t6 = csvRows(tableToCsv(tables[3]!));
    expect(t6.map((x) => [x.stage, x.step, x.trainable_params_mean])).toEqual([
      ['swft', '1', '100'],
      ['swft', '2', '200'],
      ['lora', '1', '107'],
      ['lora', '2', '207'],
    ]);
  });

  it('JSON: per-run values and seeds, only tables with rows', async () => {
    const files = await buildReport(records.filter((x) => x.stage === 'expt1'), { modelOrder: ['vgg19'] });
    expect([...files.keys()].filter((k) => !k.startsWith('roc-'))).toEqual(['tables.md', 'tables.json', 'table3.csv']);
    const json = JSON.parse(files.get('tables.json') as string);
    expect(json.tables.map((t: { id: string }) => t.id)).toEqual(['table3']);
    const row = json.tables[0].rows[0];
    expect(row.label).toBe('vgg19**');
    expect(row.metrics.accuracy.values).toEqual([1, 0.9, 0.8]);
    expect(row.runs.map((x: { seed: number }) => x.seed)).toEqual([1001, 1002, 1003]);
    expect(json.roc[0].curves.map((c: { model: string; run: number }) => `${c.model}:${c.run}`)).toEqual(['vgg19:2', 'resnet50:1']);
  });

  it('does not depend on the order of the records', () => {
    const shuffled = [...records].reverse();
    expect(tablesToMarkdown(buildTables(shuffled, { modelOrder: ['vgg19'] }), 'Demo study')).toBe(md);
  });

  it('AUC undefined in every run shows n/a; a run recorded twice is an error', () => {
    const noAuc: RunRecord[] = [1, 2].map((run) => {
      const r = record('expt1', 'm', run);
      return { ...r, test: { ...r.test!, auc: null, roc: null } };
    });
    const t = buildTable('table3', noAuc);
    expect(t.rows[0]!.metrics.auc).toBeNull();
    expect(tablesToMarkdown([t])).toMatch(/\| n\/a \|\n/);
    expect(() => buildTable('table3', [record('expt1', 'm', 1), record('expt1', 'm', 1)])).toThrow(/recorded twice/);
    expect(() => buildTable('table6', [{ ...record('swft', 'm', 1) }])).toThrow(/no step/);
  });

  it('escapes Markdown', () => {
    expect(escapeMarkdown('a*b_c|d^')).toBe('a\\*b\\_c\\|d\\^');
  });
});

describe('one run: no std and no interval', () => {
  const one = [record('expt1', 'solo', 1, { wrong: 2 })]; // accuracy 0.8
  const t = buildTable('table3', one);

  it('the Markdown details say n=1 and interval n/a; the main table keeps the mean', () => {
    const md = tablesToMarkdown([t]);
    expect(mdRow(md, 'solo\\*\\*')[3]).toBe('0.800');
    const details = mdRow(md, 'solo\\*\\*', 'Details');
    expect(details[2]).toBe('1');
    expect(details[5]).toBe('0.800 (n=1; interval n/a)');
    expect(details.join(' ')).not.toMatch(/±/);
  });

  it('CSV: empty std and interval cells, n = 1', () => {
    const [r] = csvRows(tableToCsv(t));
    expect(r).toMatchObject({ accuracy_mean: '0.8', accuracy_std: '', accuracy_ci_lo: '', accuracy_ci_hi: '', accuracy_n: '1' });
  });

  it('JSON: std and ci95 are null', async () => {
    const json = JSON.parse((await buildReport(one, { modelOrder: [] })).get('tables.json') as string);
    expect(json.tables[0].rows[0].metrics.accuracy).toEqual({ mean: 0.8, std: null, ci95: null, n: 1, values: [0.8] });
  });

  it('HTML: the tooltip of a cell says interval n/a', async () => {
    const statistics = { bootstrap: DEFAULT_BOOTSTRAP, intervals: [], comparisons: [], skipped: [] };
    const html = await buildHtmlReport(tempDir('one-run-html'), one, { title: 'One run', modelOrder: [], statistics });
    expect(html).toContain('title="0.800 (n=1; interval n/a)"');
    expect(html).not.toMatch(/title="[^"]*±/);
  });
});
