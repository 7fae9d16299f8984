// Spreadsheets (.xlsx through exceljs, .csv through our parser) read into one
// shape: a header of column names and data rows numbered as a spreadsheet
// program shows them (header = row 1 in a plain sheet), so error messages can
// point at the row a person would look at.
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import ExcelJS from 'exceljs';

import { parseCsv } from './csv.js';

export interface TableRow {
  /** 1-based row number in the sheet (or record number in a CSV). */
  row: number;
  /** One string per column, '' for empty cells. */
  cells: string[];
}

export interface Table {
  path: string;
  columns: string[];
  rows: TableRow[];
}

const isBlank = (cells: readonly string[]): boolean => cells.every((c) => c.trim() === '');

function fromRecords(path: string, records: { row: number; cells: string[] }[]): Table {
  const nonEmpty = records.filter((r) => !isBlank(r.cells));
  const header = nonEmpty[0];
  if (!header) throw new Error(`spreadsheet ${path} is empty (no header row)`);
  const columns = header.cells.map((c) => c.trim());
  const rows = nonEmpty.slice(1).map((r) => ({
    row: r.row,
    cells: columns.map((_, i) => (r.cells[i] ?? '').trim()),
  }));
  return { path, columns, rows };
}

function readCsvTable(path: string): Table {
  let records: string[][];
  try {
    records = parseCsv(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read CSV ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return fromRecords(path, records.map((cells, i) => ({ row: i + 1, cells })));
}

async function openWorkbook(path: string): Promise<ExcelJS.Workbook> {
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.readFile(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot read spreadsheet ${path}: ${why} (is it a valid .xlsx file? Re-save it as .xlsx or .csv)`);
  }
  return workbook;
}

async function readXlsxTable(path: string, worksheet?: string): Promise<Table> {
  const workbook = await openWorkbook(path);
  const names = workbook.worksheets.map((w) => w.name);
  const sheet = worksheet === undefined ? workbook.worksheets[0] : workbook.getWorksheet(worksheet);
  if (!sheet) {
    const which = worksheet === undefined ? 'has no worksheets' : `has no worksheet '${worksheet}'`;
    throw new Error(`spreadsheet ${path} ${which} (worksheets: ${names.join(', ') || 'none'})`);
  }
  const records: { row: number; cells: string[] }[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: string[] = [];
    // cell.text renders numbers, formulas (their result), rich text and links as shown.
    for (let c = 1; c <= row.cellCount; c++) cells.push(row.getCell(c).text ?? '');
    records.push({ row: rowNumber, cells });
  });
  return fromRecords(`${path}${worksheet ? ` [${worksheet}]` : ''}`, records);
}

/** Reads a .csv or .xlsx file (first worksheet unless `worksheet` names one). */
export async function readTable(path: string, worksheet?: string): Promise<Table> {
  if (!existsSync(path)) throw new Error(`spreadsheet ${path} does not exist`);
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.txt' || ext === '.tsv') return readCsvTable(path);
  if (ext === '.xlsx' || ext === '.xlsm') return readXlsxTable(path, worksheet);
  if (ext === '.xls') throw new Error(`spreadsheet ${path} is in the old .xls format, which cannot be read; save it as .xlsx or .csv`);
  throw new Error(`cannot read spreadsheet ${path}: expected a .xlsx or .csv file`);
}

const fold = (s: string): string => s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');

/**
 * Index of a column: `wanted` (exact, then ignoring case, spaces, '_' and '-')
 * or, when not given, the first of `guesses` present. Throws naming the column
 * and the columns found.
 */
export function requireColumn(table: Table, role: string, wanted: string | undefined, guesses: readonly string[]): number {
  const index = findColumn(table, wanted, guesses);
  if (index >= 0) return index;
  const found = table.columns.map((c) => `'${c}'`).join(', ');
  const asked = wanted !== undefined ? `column '${wanted}'` : `a column for ${role} (looked for ${guesses.map((g) => `'${g}'`).join(', ')})`;
  throw new Error(`${table.path}: ${asked} not found; columns found: ${found}`);
}

/** Like requireColumn but returns -1 when absent. */
export function findColumn(table: Table, wanted: string | undefined, guesses: readonly string[]): number {
  const names = wanted !== undefined ? [wanted] : guesses;
  for (const name of names) {
    const exact = table.columns.indexOf(name);
    if (exact >= 0) return exact;
    const loose = table.columns.findIndex((c) => fold(c) === fold(name));
    if (loose >= 0) return loose;
  }
  return -1;
}
