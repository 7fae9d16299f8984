// The study report's model-cards.md: written by writeStudyReport into report/, one section
// per configuration of the report tables with links (relative to report/) that resolve to
// each run's model-card.md, a summary of the data and recipe from the runs' own
// config.json and split.json, and a link from index.html.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { writeStudyReport } from '../../lib/experiment/study.js';
import type { RunRecord } from '../../lib/experiment/types.js';
import { buildReport, writeReport } from '../../lib/report/index.js';
import { tempDir } from '../helpers/images.js';
import { CLASSES, record } from './fixtures.js';

const CONFIG = { data: '/data/target', epochs: 30, batchSize: 16, seed: 7, precision: 'fp32', channelsLast: false, patience: 5, monitor: 'val_loss', lr: 0.001, inputSize: 224 };

function writeRunFolder(study: string, r: RunRecord, card: boolean, extra: Record<string, unknown> = {}): void {
  const dir = join(study, r.dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...CONFIG, model: r.model, seed: r.seed, splitFile: join(study, 'splits', 'target.json'), ...extra }));
  const entries = (n: number, off: number) => Array.from({ length: n }, (_, i) => ({ file: `/data/target/${i + off}.png`, label: i % 2, group: `P${(i + off) >> 1}` }));
  const split = { version: 1, dataset: '/data/target', seed: 11, ratios: [0.6, 0.2, 0.2], remainder: 'train', groupBy: 'patient', classes: CLASSES, train: entries(6, 0), val: entries(2, 6), test: entries(2, 8) };
  writeFileSync(join(dir, 'split.json'), JSON.stringify(split));
  if (card) writeFileSync(join(dir, 'model-card.md'), `# Model card: ${r.model}\n`);
}

/** The Markdown links of a file, as [text](target). */
const links = (md: string): string[] => [...md.matchAll(/\]\(([^)]+)\)/g)].map((m) => decodeURI(m[1]!));

describe('report/model-cards.md', () => {
  const study = tempDir('model-cards-study');
  const expt1 = [1, 2].map((run) => record('expt1', 'vgg19', run));
  const expt3 = [1, 2].map((run) => record('expt3', 'vgg19', run));
  const steps = [1, 2].map((step) => record('swft', 'vgg19', 1, { step }));
  const records = [...expt1, ...expt3, ...steps];
  expt1.forEach((r) => writeRunFolder(study, r, true));
  writeRunFolder(study, expt3[0]!, true, { headOnly: true, weights: '/weights/vgg19.pth' });
  writeRunFolder(study, expt3[1]!, false); // a run whose card is missing
  steps.forEach((r) => writeRunFolder(study, r, true, { trainableGroups: ['head', 'features.4'] }));

  it('writeStudyReport writes it; one section per configuration; every link resolves to a run\'s model-card.md', async () => {
    const files = await writeStudyReport(study, { name: 'Cards study', modelOrder: [] }, records, { html: true });
    expect(files).toContain(join('report', 'model-cards.md'));
    const md = readFileSync(join(study, 'report', 'model-cards.md'), 'utf8');
    expect(md.startsWith('# Model cards: Cards study\n')).toBe(true);
    expect([...md.matchAll(/^## (.*)$/gm)].map((m) => m[1])).toEqual(['Shared by the study', 'vgg19\\*\\*', 'vgg19\\*', 'vgg19++ step 1', 'vgg19++ step 2']);
    const targets = links(md);
    expect(targets).toHaveLength(5); // every run but the one without a card
    for (const t of targets) {
      expect(t.startsWith('../')).toBe(true);
      expect(t.endsWith('/model-card.md')).toBe(true);
      expect(existsSync(join(study, 'report', t)), t).toBe(true);
    }
    expect(targets).toEqual([...expt1, expt3[0]!, ...steps].map((r) => `../${r.dir}/model-card.md`));
    expect(md).toContain(`- run 2 (seed ${expt3[1]!.seed}): ${expt3[1]!.dir}, no model-card.md`);
    // the summary: the first run's data and recipe, in the run cards' words, paths in the study relative to it
    expect(md).toContain('Dataset: /data/target (split file splits/target.json). Classes (label order): 0 = benign, 1 = malignant.');
    expect(md).toContain('Split: ratios 0.6/0.2/0.2, seed 11, grouped by patient (no patient in two splits).');
    expect(md).toContain('| train | 6 | 3 | 3 | 3 |');
    expect(md).toContain(`Recipe of ${expt1[0]!.dir} (the other runs differ in seed`);
    expect(md).toContain('input 224x224 px, batch 16, Adam lr 0.001, at most 30 epochs, early stopping on val_loss (patience 5), precision fp32.');
    expect(md).not.toContain(study);
    // each configuration: what it trained
    expect(md).toContain('vgg19, initial weights /weights/vgg19.pth, trained: the classification head only.');
    expect(md).toContain('trained: groups head, features.4.');
    // the HTML report links it
    const html = readFileSync(join(study, 'report', 'index.html'), 'utf8');
    expect(html).toContain('<a href="model-cards.md">model-cards.md</a>');
    expect(html).toContain('<a href="#model-cards">Model cards</a>');
  });

  it('the same runs give the same bytes; not written without a study folder; removed with the runs', async () => {
    const a = (await buildReport(records, { studyDir: study })).get('model-cards.md');
    const b = (await buildReport([...records].reverse(), { studyDir: study })).get('model-cards.md');
    expect(a).toBe(b);
    expect((await buildReport(records)).has('model-cards.md')).toBe(false);
    const out = join(study, 'report2');
    await writeReport(out, records, { studyDir: study });
    expect(existsSync(join(out, 'model-cards.md'))).toBe(true);
    await writeReport(out, records);
    expect(existsSync(join(out, 'model-cards.md'))).toBe(false);
    expect(existsSync(dirname(out))).toBe(true);
  });
});
