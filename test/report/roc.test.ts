import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../lib/experiment/types.js';
import { buildReport, writeReport } from '../../lib/report/index.js';
import { buildRocFigures, normalizeSvgIds, selectRocRun } from '../../lib/report/roc.js';
import { record, study } from './fixtures.js';

/** Number of <path> elements inside each group of the ROC curve mark. */
function curvePaths(svg: string): number[] {
  const groups = svg.split('class="mark-line role-mark roc_marks"').slice(1);
  return groups.map((g) => (g.slice(0, g.indexOf('</g>')).match(/<path /g) ?? []).length);
}

describe('ROC run selection', () => {
  it('picks the run closest to the mean test accuracy', () => {
    // accuracies 1.0, 0.9, 0.8 -> mean 0.9 -> run 2
    expect(selectRocRun([1, 2, 3].map((run) => record('expt1', 'm', run, { wrong: run - 1 })))!.run).toBe(2);
    // 1.0, 1.0, 0.7 -> mean 0.9 -> runs 1 and 2 are 0.1 away: run 1
    expect(selectRocRun([3, 2, 1].map((run) => record('expt1', 'm', run, { wrong: [0, 0, 3][run - 1] })))!.run).toBe(1);
  });

  it('ties go to the lowest run index, whatever the input order', () => {
    // 0.8 (run 2) and 1.0 (run 1): both 0.1 from the mean 0.9
    const recs = [record('expt1', 'm', 2, { wrong: 2 }), record('expt1', 'm', 1, { wrong: 0 })];
    expect(selectRocRun(recs)!.run).toBe(1);
    expect(selectRocRun([...recs].reverse())!.run).toBe(1);
    const later = [record('expt1', 'm', 5, { wrong: 0 }), record('expt1', 'm', 3, { wrong: 2 })];
    expect(selectRocRun(later)!.run).toBe(3);
  });

  it('skips runs without a ROC curve', () => {
    const recs: RunRecord[] = [1, 2, 3].map((run) => record('expt1', 'm', run, { wrong: run - 1 }));
    recs[1] = { ...recs[1]!, test: { ...recs[1]!.test!, roc: null } };
    expect([1, 3]).toContain(selectRocRun(recs)!.run);
    expect(selectRocRun(recs.map((r) => ({ ...r, test: { ...r.test!, roc: null } })))).toBeNull();
    expect(buildRocFigures(recs.map((r) => ({ ...r, test: { ...r.test!, roc: null } })))).toEqual([]);
  });
});

describe('ROC figures', () => {
  const records = study();
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('one figure per experiment and per SWFT / LoRA model, one curve per model or step', async () => {
    const files = await buildReport(records, { modelOrder: ['vgg19'], title: 'Demo study' });
    expect([...files.keys()]).toEqual([
      'tables.md',
      'tables.json',
      'table3.csv',
      'table4.csv',
      'table5.csv',
      'table6.csv',
      ...['expt1', 'expt2', 'expt3', 'plusplus', 'swft-resnet50', 'lora-resnet50'].flatMap((n) => [`roc-${n}.svg`, `roc-${n}.png`]),
    ]);
    const svg = files.get('roc-expt1.svg') as string;
    expect(curvePaths(svg)).toEqual([1, 1]);
    const vgg2 = records.find((r) => r.stage === 'expt1' && r.model === 'vgg19' && r.run === 2)!;
    const res1 = records.find((r) => r.stage === 'expt1' && r.model === 'resnet50' && r.run === 1)!;
    expect(svg).toContain(`>vgg19 (AUC ${vgg2.test!.auc!.toFixed(3)})<`);
    expect(svg).toContain(`>resnet50 (AUC ${res1.test!.auc!.toFixed(3)})<`);
    expect(svg).toContain('>False positive rate<');
    expect(svg).toContain('>True positive rate<');
    expect(svg).toContain('font-family="DejaVu Sans"');
    expect(svg).toContain('chance_marks');
    const steps = files.get('roc-lora-resnet50.svg') as string;
    expect(curvePaths(steps)).toEqual([1, 1]);
    expect(steps).toMatch(/>Step 1 \(AUC \d\.\d{3}\)</);

    const png = files.get('roc-expt1.png') as Buffer;
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(Math.abs(meta.width! - 800)).toBeLessThanOrEqual(2);
    expect(meta.height).toBeGreaterThan(600);

    // Same input, same bytes (also after other renders in this process).
    const again = await buildReport(records, { modelOrder: ['vgg19'], title: 'Demo study' });
    for (const [name, data] of files) {
      const other = again.get(name)!;
      expect(Buffer.isBuffer(data) ? data.equals(other as Buffer) : data === other, name).toBe(true);
    }
  });

  it('curve points come from the chosen run', () => {
    const [fig] = buildRocFigures(records, { modelOrder: ['vgg19'] });
    const vgg2 = records.find((r) => r.stage === 'expt1' && r.model === 'vgg19' && r.run === 2)!;
    expect(fig!.curves[0]!.fpr).toEqual(vgg2.test!.roc!.fpr);
    expect(fig!.curves[0]!.tpr).toEqual(vgg2.test!.roc!.tpr);
    expect(fig!.curves[0]).toMatchObject({ run: 2, seed: 1002, groupSize: 3 });
  });

  it('renumbers vega clip ids', () => {
    expect(normalizeSvgIds('<clipPath id="clip7"/><g clip-path="url(#clip7)"/><clipPath id="clip9"/>')).toBe(
      '<clipPath id="clip1"/><g clip-path="url(#clip1)"/><clipPath id="clip2"/>',
    );
  });

  it('writeReport writes every file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thtl-report-'));
    dirs.push(dir);
    const out = join(dir, 'report');
    const written = await writeReport(out, records.filter((r) => r.stage === 'plus' || r.stage === 'expt3'));
    expect(written.map((p) => p.slice(out.length + 1))).toEqual(['tables.md', 'tables.json', 'table4.csv', 'table5.csv', 'roc-expt3.svg', 'roc-expt3.png']);
    expect(readFileSync(join(out, 'table5.csv'), 'utf8').split('\n')[0]).toBe(
      'expt,stage,model,step,label,runs,seeds,epoch,epochs_mean,epochs_std,epochs_ci_lo,epochs_ci_hi,epochs_n,val_accuracy_mean,val_accuracy_std,val_accuracy_ci_lo,val_accuracy_ci_hi,val_accuracy_n,avg_epoch_seconds_mean,avg_epoch_seconds_std,avg_epoch_seconds_ci_lo,avg_epoch_seconds_ci_hi,avg_epoch_seconds_n',
    );
  });

  it('writeReport removes report files an earlier build made that this one does not, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thtl-report-'));
    dirs.push(dir);
    const out = join(dir, 'report');
    await writeReport(out, records.filter((r) => r.stage === 'expt1' || r.stage === 'expt3'));
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await writeReport(out, records.filter((r) => r.stage === 'expt3'));
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'roc-expt3.png', 'roc-expt3.svg', 'table4.csv', 'tables.json', 'tables.md']);
  });
});
