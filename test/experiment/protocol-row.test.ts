// A protocol is one row of PROTOCOL_ROWS: a row registered here (and only here) shows in
// the --protocol list, the plan, the paper's tables, the ROC figures, the comparisons and
// the CAM labels with no other edit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runLabel } from '../../lib/cam/cam.js';
import { planStudy } from '../../lib/experiment/plan.js';
import { parseProtocols, PROTOCOLS, registerProtocol, type ProtocolId } from '../../lib/experiment/protocols.js';
import type { RunRecord, Stage } from '../../lib/experiment/types.js';
import { buildStatistics } from '../../lib/report/comparisons.js';
import { buildRocFigures } from '../../lib/report/roc.js';
import { buildTable, configLabel, tableToMarkdown } from '../../lib/report/tables.js';
import { CLASSES, record } from '../report/fixtures.js';

const GROUPS = ['fc', 'layer4', 'layer3'];
const STAGE = 'expt5' as Stage; // exists only while the test row is registered

describe('a protocol added as one row', () => {
  let unregister: () => void;
  let dir: string;
  beforeAll(() => {
    unregister = registerProtocol({
      id: 'test-5',
      description: 'test only: ImageNet weights, the last two groups trained on the target (!)',
      stages: [{ stage: STAGE, suffix: '!', expt: '#5', table: 'table4', roc: 'test only: the last two groups trained' }],
      expand: (x) => x.entry(STAGE, x.unit(STAGE, { domain: 'target', init: 'imagenet', trainable: x.groups.slice(0, 2) })),
      compare: () => [[{ stage: STAGE }, { stage: 'plusplus' }]],
    });
    dir = mkdtempSync(join(tmpdir(), 'thtl-protocol-row-'));
  });
  afterAll(() => {
    unregister();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a --protocol id with its description', () => {
    expect(parseProtocols('1,test-5')).toEqual(['1', 'test-5']);
    expect((PROTOCOLS as Record<string, string>)['test-5']).toMatch(/^test only/);
  });

  it('expands into units and report rows', () => {
    const plan = planStudy({ experiments: [{ protocols: ['4', 'test-5' as ProtocolId], models: ['m'] }], runs: 2, seed: 1 }, () => GROUPS);
    expect(plan.units.find((u) => u.dir === 'runs/m/run-2/expt5')).toMatchObject({ domain: 'target', init: 'imagenet', trainable: ['fc', 'layer4'] });
    expect(plan.entries.filter((e) => e.stage === STAGE).map((e) => [e.run, e.dir])).toEqual([
      [1, 'runs/m/run-1/expt5'],
      [2, 'runs/m/run-2/expt5'],
    ]);
  });

  it('fills rows of its table, after the built-in stages, with its marks', () => {
    const records = [1, 2].flatMap((run) => [record('plusplus', 'm', run), record(STAGE, 'm', run), record('expt3', 'm', run)]);
    const t = buildTable('table4', records);
    expect(t.rows.map((r) => [r.stage, r.expt, r.label])).toEqual([
      ['expt3', '#3', 'm*'],
      ['plusplus', '#4', 'm++'],
      [STAGE, '#5', 'm!'],
    ]);
    expect(tableToMarkdown(t)).toContain('| #5 | m! |');
    expect(buildTable('table3', records).rows).toEqual([]);
    expect(configLabel({ model: 'm', stage: STAGE })).toBe('m!');
    expect(runLabel('m', 'expt5')).toBe('m! (expt5)');
    expect(buildRocFigures(records).map((f) => [f.name, f.title, f.subtitle[0]])).toEqual([
      ['expt3', 'ROC curves: Expt.#3 (*)', 'ImageNet weights, only the head trained'],
      ['plusplus', 'ROC curves: Expt.#4 (++)', 'the + model (intermediate domain), only the head trained'],
      [STAGE, 'ROC curves: Expt.#5 (!)', 'test only: the last two groups trained'],
    ]);
  });

  it('adds its paired comparisons', () => {
    const records: RunRecord[] = [1, 2].flatMap((run) => [record('plusplus', 'm', run), record(STAGE, 'm', run)]);
    for (const [i, r] of records.entries()) {
      mkdirSync(join(dir, r.dir), { recursive: true });
      const rows = Array.from({ length: 10 }, (_, j) => {
        const p = ((j * 7 + i * 3) % 10) / 10 + 0.05;
        return `test,img${j}.png,,${CLASSES[j % 2]},${(1 - p).toFixed(2)},${p.toFixed(2)},${CLASSES[p > 0.5 ? 1 : 0]}`;
      });
      writeFileSync(join(dir, r.dir, 'predictions.csv'), [`split,file,group,label,prob_${CLASSES[0]},prob_${CLASSES[1]},predicted`, ...rows, ''].join('\n'));
    }
    const s = buildStatistics(dir, records, [], { replicates: 20, seed: 1, level: 0.95 });
    expect(s.skipped).toEqual([]);
    expect(s.comparisons.map((c) => [c.comparison, c.run])).toEqual([
      ['! vs ++', 1],
      ['! vs ++', 2],
      ['! vs ++', 'mean'],
    ]);
  });
});

describe('the built-in protocols', () => {
  it('are unchanged once a test row is removed', () => {
    expect(Object.keys(PROTOCOLS)).toEqual(['1', '2', '3', '4', 'swft', 'lora-swft']);
    expect(() => parseProtocols('test-5')).toThrow(/unknown protocol 'test-5'/);
  });
});
