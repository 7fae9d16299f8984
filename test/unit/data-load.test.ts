// Every dataset source (CE-NBI sheet .xlsx/.csv, CE-NBI folders, DR, manifest,
// ImageFolder, JSON spec) loads into the same {file, label, group} list.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';

import { type LoadedDataset, loadDataset } from '../../lib/data/dataset.js';
import { classifyLesion, normaliseLesion } from '../../lib/data/lesions.js';
import { writeJpegHeader, writePng } from '../helpers/png.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'thtl-load-'));

/** Patient -> lesion type, as in the CE-NBI spreadsheet (loosely spelled on purpose). */
const LESIONS: [string, string][] = [
  ['P001', 'Cyst'],
  ['P002', 'Squamous cell carcinoma'],
  ['P003', 'high-grade  dysplasia'],
  ['P004', 'Carcinoma in situ'],
  ['P005', 'Granuloma'],
  ['P006', 'SCC'],
];
const MALIGNANT = new Set(['P002', 'P003', 'P004', 'P006']);

interface Row {
  image: string;
  patient: string;
  lesion: string;
}

/** Images named like "Patient001_P001 (2).png", spread over two subfolders, one as JPEG. */
function cenbiImages(dir: string): Row[] {
  const rows: Row[] = [];
  LESIONS.forEach(([patient, lesion], p) => {
    for (let k = 1; k <= 3; k++) {
      const image = `Patient${patient.slice(1)}_${patient} (${k})`;
      const sub = join(dir, 'images', p < 3 ? 'part1' : 'part2');
      if (p === 0 && k === 1) writeJpegHeader(join(sub, `${image}.jpg`), 64, 48);
      else writePng(join(sub, `${image}.png`), 8 + k, 6, p * 10 + k);
      rows.push({ image, patient, lesion });
    }
  });
  return rows;
}

async function writeXlsx(path: string, header: string[], rows: string[][]): Promise<void> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('CE-NBI');
  ws.addRow(header);
  for (const r of rows) ws.addRow(r);
  await wb.xlsx.writeFile(path);
}

const csvLine = (cells: string[]): string => cells.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',');

function counts(ds: LoadedDataset): number[] {
  const c = ds.classes.map(() => 0);
  for (const it of ds.items) c[it.label]! += 1;
  return c;
}

function expectCenbi(ds: LoadedDataset): void {
  expect(ds.classes).toEqual(['benign', 'malignant']);
  expect(counts(ds)).toEqual([6, 12]);
  for (const it of ds.items) {
    expect(it.label).toBe(MALIGNANT.has(it.group ?? '') ? 1 : 0);
    expect(it.file.startsWith('/')).toBe(true);
  }
  expect(new Set(ds.items.map((i) => i.group)).size).toBe(6);
  expect(ds.skipped).toEqual([]);
}

describe('CE-NBI spreadsheet', () => {
  it('reads an .xlsx with guessed columns, lesion types and file names without extension', async () => {
    const dir = tmp();
    const rows = cenbiImages(dir);
    await writeXlsx(join(dir, 'sheet.xlsx'), ['Image', 'Patient', 'Histopathology'], rows.map((r) => [r.image, r.patient, r.lesion]));
    const ds = await loadDataset({ kind: 'cenbi', sheet: join(dir, 'sheet.xlsx'), images: join(dir, 'images') });
    expectCenbi(ds);
    expect(ds.items.find((i) => i.group === 'P001')!.file).toMatch(/part1\/Patient001_P001 \(1\)\.jpg$/);
    expect(ds.notes.join('\n')).toMatch(/lesion 'SCC' \(3 rows\) -> malignant \(built-in\)/);
    expect(ds.notes.join('\n')).toMatch(/lesion 'Cyst' \(3 rows\) -> benign \(default benign\)/);
  });

  it('reads a .csv spec file with named columns, relative paths and a benign/malignant label column', async () => {
    const dir = tmp();
    const rows = cenbiImages(dir);
    const lines = ['Image name,Patient ID,Benign/Malignant', ...rows.map((r) => csvLine([r.image, r.patient, MALIGNANT.has(r.patient) ? ' MALIGNANT ' : 'Benign']))];
    writeFileSync(join(dir, 'labels.csv'), `\uFEFF${lines.join('\r\n')}\r\n`);
    const spec = { kind: 'cenbi', sheet: 'labels.csv', images: 'images', columns: { file: 'Image name', label: 'Benign/Malignant', patient: 'Patient ID' } };
    writeFileSync(join(dir, 'cenbi.json'), JSON.stringify(spec));
    expectCenbi(await loadDataset(join(dir, 'cenbi.json')));
  });

  it('takes patient ids from file names when the sheet has no patient column', async () => {
    const dir = tmp();
    const rows = cenbiImages(dir);
    writeFileSync(join(dir, 's.csv'), ['file,lesion', ...rows.map((r) => csvLine([`${r.image}.png`, r.lesion]))].join('\n'));
    const ds = await loadDataset({ kind: 'cenbi', sheet: join(dir, 's.csv'), images: join(dir, 'images'), extensions: ['.jpg'] });
    expect(ds.items.find((i) => i.group === 'Patient001')!.file).toMatch(/\(1\)\.jpg$/);
    expect(ds.items.map((i) => i.group)).toContain('Patient002');
    expect(new Set(ds.items.map((i) => i.group)).size).toBe(6);
  });

  it('applies a mapping file that overrides and extends the built-in lesion table', async () => {
    const dir = tmp();
    const rows = cenbiImages(dir);
    writeFileSync(join(dir, 's.csv'), ['Image,Patient,Lesion', ...rows.map((r) => csvLine([r.image, r.patient, r.lesion]))].join('\n'));
    writeFileSync(join(dir, 'map.json'), JSON.stringify({ granuloma: 'Malignant', 'carcinoma in situ': 'benign' }));
    const spec = { kind: 'cenbi' as const, sheet: join(dir, 's.csv'), images: join(dir, 'images') };
    const ds = await loadDataset(spec, { mapping: join(dir, 'map.json') });
    const labelOf = (p: string): number => ds.items.find((i) => i.group === p)!.label;
    expect([labelOf('P005'), labelOf('P004'), labelOf('P002')]).toEqual([1, 0, 1]);
    expect((await loadDataset({ ...spec, mapping: { cyst: 'malignant' } })).items.find((i) => i.group === 'P001')!.label).toBe(1);
  });
});

describe('lesion mapping', () => {
  it('normalises case, hyphens and spaces; malignant types are the paper three and SCC', () => {
    expect(normaliseLesion('  High-Grade   Dysplasia ')).toBe('high grade dysplasia');
    const m = new Map();
    for (const l of ['squamous-cell carcinoma', 'HIGH GRADE DYSPLASIA', 'carcinoma_in_situ', 'scc', 'Malignant'])
      expect(classifyLesion(l, m).cls, l).toBe('malignant');
    for (const l of ['cyst', 'amyloidosis', 'low-grade dysplasia', 'papilloma', 'benign']) expect(classifyLesion(l, m).cls, l).toBe('benign');
  });
});

describe('CE-NBI folders', () => {
  it('maps class and lesion folders (nested) to benign/malignant with patients from file names', async () => {
    const root = join(tmp(), 'cenbi');
    writePng(join(root, 'Cyst', 'Patient001_P001 (1).png'));
    writePng(join(root, 'Cyst', 'sub', 'Patient001_P001 (2).png'));
    writePng(join(root, 'Squamous Cell Carcinoma', 'Patient002_P002 (1).png'));
    writePng(join(root, 'benign', 'Patient003_P003 (1).png'));
    writePng(join(root, 'High-grade dysplasia', 'x.png'));
    writeFileSync(join(root, 'Cyst', 'notes.txt'), 'not an image');
    const ds = await loadDataset({ kind: 'cenbi-folders', root });
    expect(ds.classes).toEqual(['benign', 'malignant']);
    expect(counts(ds)).toEqual([3, 2]);
    expect(ds.items.filter((i) => i.group === 'Patient001')).toHaveLength(2);
    expect(ds.items.find((i) => i.file.endsWith('x.png'))!.group).toBeUndefined();
    expect(ds.notes).toContain("folder 'High-grade dysplasia' (1 images) -> malignant (built-in)");
    expect(ds.notes).toContain('ignored 1 non-image file(s)');
    // A folder path plus a mapping is read the same way.
    writeFileSync(join(root, '..', 'map.json'), JSON.stringify({ cyst: 'malignant' }));
    expect(counts(await loadDataset(root, { mapping: join(root, '..', 'map.json') }))).toEqual([1, 4]);
  });
});

describe('DR (Kaggle trainLabels.csv)', () => {
  it('reads image,level with .jpeg files, classes 0..4 and the patient id as group', async () => {
    const dir = tmp();
    const lines = ['image,level'];
    for (let id = 10; id < 20; id++)
      for (const eye of ['left', 'right']) {
        writeJpegHeader(join(dir, 'train', `${id}_${eye}.jpeg`), 300 + id, 200 + id);
        lines.push(`${id}_${eye},${id % 5}`);
      }
    writeFileSync(join(dir, 'trainLabels.csv'), `${lines.join('\n')}\n`);
    const ds = await loadDataset({ kind: 'dr', csv: join(dir, 'trainLabels.csv'), images: join(dir, 'train') });
    expect(ds.classes).toEqual(['0', '1', '2', '3', '4']);
    expect(counts(ds)).toEqual([4, 4, 4, 4, 4]);
    expect(ds.items[0]).toEqual({ file: join(dir, 'train', '10_left.jpeg'), label: 0, group: '10' });
    expect(ds.items[1]!.group).toBe('10');
    // The bare CSV path finds train/ next to it.
    expect((await loadDataset(join(dir, 'trainLabels.csv'))).items).toEqual(ds.items);
    // DR levels are grades: ordinal, unless a spec says otherwise
    expect(ds.ordinal).toBe(true);
    expect((await loadDataset(join(dir, 'trainLabels.csv'))).ordinal).toBe(true);
    expect((await loadDataset({ kind: 'dr', csv: join(dir, 'trainLabels.csv'), images: join(dir, 'train'), ordinal: false })).ordinal).toBe(false);
  });
});

describe('ordinal labels', () => {
  it('a folder or manifest is not ordinal unless its JSON spec says "ordinal": true', async () => {
    const dir = tmp();
    for (const g of ['grade0', 'grade1', 'grade2']) writePng(join(dir, 'folder', g, `${g}.png`));
    writeFileSync(join(dir, 'm.csv'), 'path,label\nfolder/grade0/grade0.png,g0\nfolder/grade1/grade1.png,g1\n');
    expect((await loadDataset(join(dir, 'folder'))).ordinal).toBe(false);
    expect((await loadDataset(join(dir, 'm.csv'))).ordinal).toBe(false);
    writeFileSync(join(dir, 'graded.json'), JSON.stringify({ kind: 'imagefolder', root: 'folder', ordinal: true }));
    writeFileSync(join(dir, 'plain.json'), JSON.stringify({ kind: 'manifest', csv: 'm.csv', ordinal: false }));
    writeFileSync(join(dir, 'graded-m.json'), JSON.stringify({ kind: 'manifest', csv: 'm.csv', ordinal: true }));
    expect((await loadDataset(join(dir, 'graded.json'))).ordinal).toBe(true);
    expect((await loadDataset(join(dir, 'plain.json'))).ordinal).toBe(false);
    expect((await loadDataset(join(dir, 'graded-m.json'))).ordinal).toBe(true);
  });

  it('refuses an "ordinal" that is not a boolean, naming the spec file and the key', async () => {
    const dir = tmp();
    writePng(join(dir, 'folder', 'a', 'a.png'));
    writePng(join(dir, 'folder', 'b', 'b.png'));
    for (const [name, value] of [['s1.json', 'yes'], ['s2.json', 1], ['s3.json', null]] as const) {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify({ kind: 'imagefolder', root: 'folder', ordinal: value }));
      const err = await loadDataset(path).then(() => null, (e: Error) => e);
      expect(err?.message).toBe(`dataset spec ${path}: 'ordinal' must be true or false, got ${JSON.stringify(value)}`);
    }
  });
});

describe('manifest and ImageFolder', () => {
  it('reads path,label,group relative to the CSV or to root; classes sorted', async () => {
    const dir = tmp();
    writePng(join(dir, 'img', 'a.png'));
    writePng(join(dir, 'img', 'b.png'));
    writePng(join(dir, 'img', 'c d.png'));
    writeFileSync(join(dir, 'm.csv'), 'path,label,group\nimg/a.png,zebra,g1\nimg/b.png,ant,g1\n"img/c d.png",zebra,\n');
    const ds = await loadDataset(join(dir, 'm.csv'));
    expect(ds.name).toBe('m');
    expect(ds.classes).toEqual(['ant', 'zebra']);
    expect(ds.items).toEqual([
      { file: join(dir, 'img', 'a.png'), label: 1, group: 'g1' },
      { file: join(dir, 'img', 'b.png'), label: 0, group: 'g1' },
      { file: join(dir, 'img', 'c d.png'), label: 1 },
    ]);
    mkdirSync(join(dir, 'lists'));
    writeFileSync(join(dir, 'lists', 'm.csv'), 'path,label\na.png,x\nb.png,y\n');
    const rooted = await loadDataset({ kind: 'manifest', csv: join(dir, 'lists', 'm.csv'), root: join(dir, 'img') });
    expect(rooted.items.map((i) => i.file)).toEqual([join(dir, 'img', 'a.png'), join(dir, 'img', 'b.png')]);
  });

  it('reads an ImageFolder from a folder path or a spec, with patient groups when names carry them', async () => {
    const root = join(tmp(), 'folder');
    writePng(join(root, 'benign', 'Patient001_P001 (1).png'));
    writePng(join(root, 'malignant', 'm1.png'));
    const ds = await loadDataset(root);
    expect(ds.classes).toEqual(['benign', 'malignant']);
    expect(ds.items).toEqual([
      { file: join(root, 'benign', 'Patient001_P001 (1).png'), label: 0, group: 'Patient001' },
      { file: join(root, 'malignant', 'm1.png'), label: 1 },
    ]);
    expect((await loadDataset({ kind: 'imagefolder', root, name: 'x' })).name).toBe('x');
  });

  it('walks an ImageFolder by the same rules as every other loader: no macOS zip debris, no hidden files', async () => {
    const root = join(tmp(), 'unzipped');
    writePng(join(root, 'benign', 'b1.png'));
    writePng(join(root, 'benign', 'nested', 'b2.png'));
    writePng(join(root, 'benign', '._b1.png'));
    writePng(join(root, 'malignant', 'm1.png'));
    writePng(join(root, '__MACOSX', 'benign', '._b1.png'));
    writePng(join(root, '.thumbnails', 't.png'));
    const ds = await loadDataset(root);
    expect(ds.classes).toEqual(['benign', 'malignant']);
    expect(ds.items.map((i) => i.file)).toEqual([join(root, 'benign', 'b1.png'), join(root, 'benign', 'nested', 'b2.png'), join(root, 'malignant', 'm1.png')]);
  });

  it('explains what a path or spec cannot be', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 's.xlsx'), '');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ kind: 'cenbi', sheet: 's.xlsx' }));
    writeFileSync(join(dir, 'odd.json'), JSON.stringify({ kind: 'nifti', root: '.' }));
    await expect(loadDataset(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
    await expect(loadDataset(join(dir, 's.xlsx'))).rejects.toThrow(/needs a spec naming its images folder/);
    await expect(loadDataset(join(dir, 'bad.json'))).rejects.toThrow(/kind 'cenbi' needs 'images'/);
    await expect(loadDataset(join(dir, 'odd.json'))).rejects.toThrow(/'kind' must be one of imagefolder, manifest, cenbi, cenbi-folders, dr/);
  });
});
