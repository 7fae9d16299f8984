// The CSV parser and the spreadsheet reader (CSV and .xlsx) that the CE-NBI,
// DR and manifest loaders share.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';

import { guessSeparator, parseCsv } from '../../lib/data/csv.js';
import { findColumn, readTable, requireColumn } from '../../lib/data/table.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'thtl-csv-'));

describe('parseCsv (RFC 4180)', () => {
  it('reads plain records, with or without a final line break', () => {
    expect(parseCsv('a,b\n1,2\n')).toEqual([['a', 'b'], ['1', '2']]);
    expect(parseCsv('a,b\n1,2')).toEqual([['a', 'b'], ['1', '2']]);
    expect(parseCsv('')).toEqual([]);
  });

  it('handles quotes, doubled quotes, separators and line breaks inside quotes', () => {
    const text = 'file,note\n"Patient012_P012 (33)","a, b"\n"say ""hi""","two\nlines"\n';
    expect(parseCsv(text)).toEqual([['file', 'note'], ['Patient012_P012 (33)', 'a, b'], ['say "hi"', 'two\nlines']]);
  });

  it('handles CRLF, lone CR, a BOM, empty fields and blank lines', () => {
    expect(parseCsv('\uFEFFa,b\r\n1,\r\n\r\n,2\r')).toEqual([['a', 'b'], ['1', ''], [''], ['', '2']]);
  });

  it('guesses ; and tab separators from the header', () => {
    expect(guessSeparator('a;b;c\n1,5;2;3')).toBe(';');
    expect(guessSeparator('a\tb\n')).toBe('\t');
    expect(guessSeparator('"x;y",b\n')).toBe(',');
    expect(parseCsv('a;b\n"1;5";2\n')).toEqual([['a', 'b'], ['1;5', '2']]);
  });

  it('rejects an unterminated quote', () => {
    expect(() => parseCsv('a,b\n"open,2\n')).toThrow(/unterminated quoted field starting in record 2/);
  });
});

describe('readTable', () => {
  it('reads a CSV with row numbers as a spreadsheet shows them, skipping blank rows', async () => {
    const path = join(tmp(), 'sheet.csv');
    writeFileSync(path, 'Image , Patient\r\nx.png,P1\r\n\r\ny.png , P2\r\n');
    const t = await readTable(path);
    expect(t.columns).toEqual(['Image', 'Patient']);
    expect(t.rows).toEqual([
      { row: 2, cells: ['x.png', 'P1'] },
      { row: 4, cells: ['y.png', 'P2'] },
    ]);
  });

  it('reads an .xlsx (first worksheet or a named one) with numbers and formulas as text', async () => {
    const path = join(tmp(), 'sheet.xlsx');
    const wb = new ExcelJS.Workbook();
    const first = wb.addWorksheet('Images');
    first.addRow(['Image', 'Patient', 'Count']);
    first.addRow(['a (1)', 12, { formula: '1+1', result: 2 }]);
    first.addRow([]);
    first.addRow(['b (2)', 13, 5]);
    wb.addWorksheet('Other').addRow(['x', 'y']);
    await wb.xlsx.writeFile(path);
    const t = await readTable(path);
    expect(t.columns).toEqual(['Image', 'Patient', 'Count']);
    expect(t.rows).toEqual([
      { row: 2, cells: ['a (1)', '12', '2'] },
      { row: 4, cells: ['b (2)', '13', '5'] },
    ]);
    expect((await readTable(path, 'Other')).columns).toEqual(['x', 'y']);
    await expect(readTable(path, 'Nope')).rejects.toThrow(/no worksheet 'Nope' \(worksheets: Images, Other\)/);
  });

  it('finds columns loosely and names the columns found when one is missing', async () => {
    const path = join(tmp(), 'm.csv');
    writeFileSync(path, 'Patient_ID,Lesion Type\n');
    const t = await readTable(path);
    expect(findColumn(t, 'patient id', [])).toBe(0);
    expect(findColumn(t, undefined, ['histopathology', 'lesion-type'])).toBe(1);
    expect(() => requireColumn(t, 'file', 'Image', [])).toThrow(/column 'Image' not found; columns found: 'Patient_ID', 'Lesion Type'/);
  });

  it('reports unreadable spreadsheets clearly', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.xlsx'), 'this is not a zip file');
    writeFileSync(join(dir, 'old.xls'), 'x');
    writeFileSync(join(dir, 'empty.csv'), '\n\n');
    await expect(readTable(join(dir, 'bad.xlsx'))).rejects.toThrow(/cannot read spreadsheet .*bad\.xlsx/);
    await expect(readTable(join(dir, 'old.xls'))).rejects.toThrow(/old \.xls format/);
    await expect(readTable(join(dir, 'empty.csv'))).rejects.toThrow(/is empty \(no header row\)/);
    await expect(readTable(join(dir, 'none.csv'))).rejects.toThrow(/does not exist/);
  });
});
