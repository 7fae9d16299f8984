// `thtl-native data inspect|split` end to end on generated CE-NBI-like and
// DR-like data, through commander as the CLI runs them.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { registerDataCommands } from '../../lib/commands/data.js';
import type { SplitFile } from '../../lib/split/index.js';
import { writeJpegHeader, writePng } from '../helpers/png.js';
import { captureCommand } from '../helpers/capture.js';

const capture = (args: string[]) => captureCommand(registerDataCommands, args);

async function run(args: string[]): Promise<string> {
  const { out, error } = await capture(args);
  if (error !== undefined) throw error;
  return out;
}

afterEach(() => vi.restoreAllMocks());

/** 12 patients x 5 images, patients 1-8 benign (cyst/granuloma), 9-12 malignant; one unreadable image. */
async function cenbiSheet(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'thtl-cli-'));
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('images');
  ws.addRow(['Image', 'Patient', 'Histopathology']);
  for (let p = 1; p <= 12; p++)
    for (let k = 1; k <= 5; k++) {
      const name = `Patient${String(p).padStart(3, '0')}_P${String(p).padStart(3, '0')} (${k})`;
      if (p === 3 && k === 5) writeFileSync(join(dir, `${name}.png`), 'not a png');
      else writePng(join(dir, 'imgs', `${name}.png`), 20 + p, 10 + k);
      ws.addRow([name, `P${p}`, p <= 4 ? 'Cyst' : p <= 8 ? 'Granuloma' : p <= 10 ? 'Squamous cell carcinoma' : 'Carcinoma in situ']);
    }
  await wb.xlsx.writeFile(join(dir, 'sheet.xlsx'));
  writeFileSync(join(dir, 'cenbi.json'), JSON.stringify({ kind: 'cenbi', sheet: 'sheet.xlsx', images: '.' }));
  return join(dir, 'cenbi.json');
}

describe('data inspect', () => {
  it('prints classes, counts, groups, size range and unreadable files of a CE-NBI sheet', async () => {
    const out = await run(['data', 'inspect', await cenbiSheet()]);
    expect(out).toMatch(/dataset: .* \(CE-NBI sheet .*sheet\.xlsx\)/);
    expect(out).toMatch(/columns: file 'Image', label -, lesion 'Histopathology', patient 'Patient'/);
    expect(out).toMatch(/classes: 2, images: 60\n  benign\s+40\n  malignant\s+20\n/);
    expect(out).toMatch(/groups: 12 \(images per group: min 5, median 5, max 5\)/);
    expect(out).toMatch(/image sizes: width 21-32, height 11-15 \(59 png\)/);
    expect(out).toMatch(/unreadable files: 1\n  .*Patient003_P003 \(5\)\.png: not a JPEG or PNG file/);
    expect(out).toMatch(/skipped entries: none/);
  });

  it('inspects a DR-like trainLabels.csv and lists skipped entries with --skip-bad-images', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thtl-cli-dr-'));
    const lines = ['image,level'];
    for (let id = 1; id <= 10; id++)
      for (const eye of ['left', 'right']) {
        writeJpegHeader(join(dir, 'train', `${id}_${eye}.jpeg`), 1000 + id * 100, 800 + id);
        lines.push(`${id}_${eye},${id % 5}`);
      }
    lines.push('99_left,0');
    writeFileSync(join(dir, 'trainLabels.csv'), lines.join('\n'));
    await expect(run(['data', 'inspect', join(dir, 'trainLabels.csv')])).rejects.toThrow(/row 22: '99_left' not found/);
    const report = join(dir, 'report.json');
    const out = await run(['data', 'inspect', join(dir, 'trainLabels.csv'), '--skip-bad-images', '--report', report]);
    expect(out).toMatch(/classes: 5, images: 20\n  0\s+4\n  1\s+4\n/);
    expect(out).toMatch(/groups: 10 \(images per group: min 2, median 2, max 2\)/);
    expect(out).toMatch(/image sizes: width 1100-2000, height 801-810 \(20 jpeg\)/);
    expect(out).toMatch(/skipped entries: 1\n  row 22: missing-file: '99_left' not found/);
    expect(JSON.parse(readFileSync(report, 'utf8')).skipped).toHaveLength(1);
  });
});

describe('data split', () => {
  it('writes split.json by image and prints per-class counts per split', async () => {
    const spec = await cenbiSheet();
    const out = join(spec, '..', 'split.json');
    const text = await run(['data', 'split', spec, '--ratios', '0.7,0.2,0.1', '--out', out]);
    expect(text).toMatch(/seed 123, ratios 0\.7\/0\.2\/0\.1, remainder train, by image/);
    expect(text).toMatch(/benign\s+28\s+8\s+4\s+40\n\s+malignant\s+14\s+4\s+2\s+20\n\s+total\s+42\s+12\s+6\s+60/);
    const split = JSON.parse(readFileSync(out, 'utf8')) as SplitFile;
    expect(split).toMatchObject({ seed: 123, ratios: [0.7, 0.2, 0.1], remainder: 'train', groupBy: null, classes: ['benign', 'malignant'] });
    expect([split.train.length, split.val.length, split.test.length]).toEqual([42, 12, 6]);
  });

  it('--group-by patient keeps patients together and reports achieved ratios; --seed and --remainder apply', async () => {
    const spec = await cenbiSheet();
    const out = join(spec, '..', 'g.json');
    const text = await run(['data', 'split', spec, '--ratios', '0.5,0.5', '--seed', '7', '--remainder', 'train', '--group-by', 'patient', '--out', out]);
    expect(text).toMatch(/seed 7, ratios 0\.5\/0\.5, remainder train, by patient/);
    expect(text).toMatch(/groups\s+6\s+6\n/);
    expect(text).toMatch(/achieved ratios:\n\s+benign\s+0\.500\s+0\.500\n\s+malignant\s+0\.500\s+0\.500/);
    const split = JSON.parse(readFileSync(out, 'utf8')) as SplitFile;
    const train = new Set(split.train.map((e) => e.group));
    expect(split.val.some((e) => train.has(e.group))).toBe(false);
    expect(split.groupBy).toBe('patient');
    expect(split.achieved).toHaveLength(2);
  });

  it('validates its options and has --help', async () => {
    const spec = await cenbiSheet();
    await expect(run(['data', 'split', spec, '--ratios', '0.7', '--out', 'x.json'])).rejects.toThrow(/--ratios must be two \(train,val\) or three \(train,val,test\) positive ratios/);
    await expect(run(['data', 'split', spec, '--ratios', '0.7,0.3', '--group-by', 'eye', '--out', 'x.json'])).rejects.toThrow(/Allowed choices are patient/);
    for (const cmd of [['data'], ['data', 'inspect'], ['data', 'split']]) {
      const { out, error } = await capture([...cmd, '--help']);
      expect((error as { code?: string }).code).toBe('commander.helpDisplayed');
      expect(out).toMatch(new RegExp(`Usage: thtl-native ${cmd.join(' ')}`));
    }
    expect((await capture(['data', 'split', '--help'])).out).toMatch(/--ratios <r>[\s\S]*--group-by <unit>[\s\S]*--skip-bad-images/);
    expect((await capture(['data', 'inspect', '--help'])).out).toMatch(/Arguments:\s+spec\s+a dataset folder/);
  });
});
