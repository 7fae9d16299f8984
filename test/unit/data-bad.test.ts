// Bad data: each case fails with an error naming every offender, or with
// skipBad is dropped and listed in `skipped` (never dropped silently).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';

import { loadDataset } from '../../lib/data/dataset.js';
import type { CenbiSpec } from '../../lib/data/spec.js';
import { writePng } from '../helpers/png.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'thtl-bad-'));

/** A CE-NBI-like CSV sheet over `present` images; rows are [file, patient, lesion]. */
function sheet(rows: string[][], present: string[]): CenbiSpec {
  const dir = tmp();
  for (const f of present) writePng(join(dir, 'images', f));
  writeFileSync(join(dir, 'sheet.csv'), ['Image,Patient,Lesion', ...rows.map((r) => r.join(','))].join('\n'));
  return { kind: 'cenbi', sheet: join(dir, 'sheet.csv'), images: join(dir, 'images') };
}

const GOOD = [
  ['a (1)', 'P1', 'cyst'],
  ['b (1)', 'P2', 'SCC'],
];
const GOOD_FILES = ['a (1).png', 'b (1).png'];

describe('missing image files', () => {
  it('names every row whose file is missing, with the extensions tried', async () => {
    const spec = sheet([...GOOD, ['gone (1)', 'P3', 'cyst'], ['gone (2)', 'P3', 'cyst']], GOOD_FILES);
    const err = loadDataset(spec);
    await expect(err).rejects.toThrow(/2 bad entries:\nimage files not found \(2\):/);
    await expect(err).rejects.toThrow(/row 4: 'gone \(1\)' not found in .*images \(tried \.png, \.jpg, \.jpeg, \.bmp, \.tif, \.tiff\)\n  row 5: 'gone \(2\)'/);
    await expect(err).rejects.toThrow(/--skip-bad-images/);
  });

  it('lists 20 offenders then "... and N more"', async () => {
    const missing = Array.from({ length: 25 }, (_, i) => [`m${i}`, 'P9', 'cyst']);
    const err = loadDataset(sheet([...GOOD, ...missing], GOOD_FILES));
    await expect(err).rejects.toThrow(/image files not found \(25\):[\s\S]*'m19'[\s\S]*\.\.\. and 5 more/);
    await expect(err).rejects.not.toThrow(/'m20'/);
  });

  it('checks manifest paths too', async () => {
    const dir = tmp();
    writePng(join(dir, 'a.png'));
    writeFileSync(join(dir, 'm.csv'), 'path,label\na.png,x\nnope.png,y\n');
    await expect(loadDataset(join(dir, 'm.csv'))).rejects.toThrow(/row 3: 'nope\.png' not found/);
  });
});

describe('wrong or missing columns', () => {
  it('names the column and lists the columns found', async () => {
    const spec = sheet(GOOD, GOOD_FILES);
    await expect(loadDataset({ ...spec, columns: { file: 'Filename', lesion: 'Lesion' } })).rejects.toThrow(
      /column 'Filename' not found; columns found: 'Image', 'Patient', 'Lesion'/,
    );
    const dir = tmp();
    writeFileSync(join(dir, 'notes.csv'), 'Image,Patient,Notes\na (1),P1,x\n');
    await expect(loadDataset({ ...spec, sheet: join(dir, 'notes.csv') })).rejects.toThrow(
      /no label or lesion column \(looked for 'label', .*'histopathology'.*\); columns found: 'Image', 'Patient', 'Notes'/,
    );
    writeFileSync(join(dir, 'trainLabels.csv'), 'image,grade\n10_left,0\n');
    await expect(loadDataset({ kind: 'dr', csv: join(dir, 'trainLabels.csv'), images: dir })).rejects.toThrow(
      /column 'level' not found; columns found: 'image', 'grade'/,
    );
    writeFileSync(join(dir, 'm.csv'), 'file,kind\n');
    await expect(loadDataset(join(dir, 'm.csv'))).rejects.toThrow(/a column for label \(looked for 'label', 'class'\) not found; columns found: 'file', 'kind'/);
  });
});

describe('labels not in the mapping', () => {
  it('names each label with its rows', async () => {
    const dir = tmp();
    for (const f of ['a.png', 'b.png', 'c.png', 'd.png']) writePng(join(dir, 'images', f));
    writeFileSync(join(dir, 's.csv'), 'Image,Class\na,benign\nb,unknown\nc,malignant\nd,unknown\n');
    const spec: CenbiSpec = { kind: 'cenbi', sheet: join(dir, 's.csv'), images: join(dir, 'images'), columns: { file: 'Image', label: 'Class' } };
    await expect(loadDataset(spec)).rejects.toThrow(/labels not in the mapping \(2\):\n  'unknown' \(2\): rows 3, 5/);
    writeFileSync(join(dir, 'map.json'), JSON.stringify({ unknown: 'benign' }));
    expect((await loadDataset(spec, { mapping: join(dir, 'map.json') })).items).toHaveLength(4);
  });

  it('rejects DR levels outside 0-4 and empty lesion cells', async () => {
    const dir = tmp();
    for (let i = 0; i < 6; i++) writePng(join(dir, `${i}_left.png`));
    writeFileSync(join(dir, 'trainLabels.csv'), 'image,level\n0_left,0\n1_left,1\n2_left,2\n3_left,3\n4_left,4\n5_left,7\n');
    await expect(loadDataset({ kind: 'dr', csv: join(dir, 'trainLabels.csv'), images: dir })).rejects.toThrow(/'7' \(1\): rows 7 - level must be 0, 1, 2, 3 or 4/);
    await expect(loadDataset(sheet([...GOOD, ['c (1)', 'P3', '']], [...GOOD_FILES, 'c (1).png']))).rejects.toThrow(/\(empty\) \(1\): rows 4 - no lesion type/);
  });

  it('rejects a mapping file with values other than benign/malignant', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'map.json'), JSON.stringify({ cyst: 'harmless', scc: 'malignant' }));
    await expect(loadDataset(sheet(GOOD, GOOD_FILES), { mapping: join(dir, 'map.json') })).rejects.toThrow(/bad entries: 'cyst': "harmless"/);
  });
});

describe('duplicates, empty classes, ambiguous names, formats, unreadable sheets', () => {
  it('reports the same file named twice with both rows', async () => {
    const spec = sheet([...GOOD, ['a (1).png', 'P1', 'cyst']], GOOD_FILES);
    await expect(loadDataset(spec)).rejects.toThrow(/duplicate entries \(the same file more than once\) \(1\):\n  row 4: .*a \(1\)\.png \(first in row 2\)/);
  });

  it('reports a class with no images, also after skipping', async () => {
    await expect(loadDataset(sheet([GOOD[0]!], [GOOD_FILES[0]!]))).rejects.toThrow(/class\(es\) with no images: malignant/);
    await expect(loadDataset(sheet([GOOD[0]!, ['gone', 'P2', 'SCC']], [GOOD_FILES[0]!]), { skipBad: true })).rejects.toThrow(
      /no images \(after skipping 1 bad entries\): malignant/,
    );
  });

  it('reports names that match files in two folders, and formats that cannot be decoded', async () => {
    const spec = sheet([...GOOD, ['x', 'P3', 'cyst'], ['y', 'P3', 'cyst']], [...GOOD_FILES, 'p/x.png', 'q/x.png', 'y.bmp']);
    const err = loadDataset(spec);
    await expect(err).rejects.toThrow(/names matching more than one file \(1\):\n  row 4: 'x' matches 2 files/);
    await expect(err).rejects.toThrow(/cannot be decoded \(only JPEG and PNG\) \(1\):\n  row 5: .*y\.bmp: \.bmp cannot be decoded/);
    const folder = join(tmp(), 'f');
    writePng(join(folder, 'a', '1.png'));
    writePng(join(folder, 'b', '2.png'));
    writeFileSync(join(folder, 'b', '3.tif'), '');
    await expect(loadDataset(folder)).rejects.toThrow(/3\.tif: \.tif cannot be decoded/);
    expect((await loadDataset(folder, { skipBad: true })).skipped).toEqual([
      { file: join(folder, 'b', '3.tif'), reason: `unsupported-format: ${join(folder, 'b', '3.tif')}: .tif cannot be decoded (only JPEG and PNG)` },
    ]);
  });

  it('reports an unreadable spreadsheet', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'sheet.xlsx'), 'garbage');
    await expect(loadDataset({ kind: 'cenbi', sheet: join(dir, 'sheet.xlsx'), images: dir })).rejects.toThrow(/cannot read spreadsheet .*sheet\.xlsx/);
  });
});

describe('skipBad', () => {
  it('drops missing, unmapped and duplicate rows and lists each with row and reason', async () => {
    const dir = tmp();
    for (const f of ['a.png', 'b.png', 'c.png']) writePng(join(dir, 'img', f));
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('s');
    for (const r of [['File', 'Patient', 'Label'], ['a', 'P1', 'benign'], ['b', 'P2', 'malignant'], ['gone', 'P3', 'benign'], ['c', 'P4', '??'], ['a', 'P1', 'benign']])
      ws.addRow(r);
    await wb.xlsx.writeFile(join(dir, 's.xlsx'));
    const ds = await loadDataset({ kind: 'cenbi', sheet: join(dir, 's.xlsx'), images: join(dir, 'img') }, { skipBad: true });
    expect(ds.items.map((i) => i.file)).toEqual([join(dir, 'img', 'a.png'), join(dir, 'img', 'b.png')]);
    expect(ds.skipped).toEqual([
      { row: 4, reason: `missing-file: 'gone' not found in ${join(dir, 'img')} (tried .png, .jpg, .jpeg, .bmp, .tif, .tiff)` },
      { row: 5, reason: 'unmapped-label: not benign/malignant and not in the mapping' },
      { row: 6, file: join(dir, 'img', 'a.png'), reason: `duplicate: ${join(dir, 'img', 'a.png')} (first in row 2)` },
    ]);
  });
});
