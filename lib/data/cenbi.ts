// CE-NBI from its spreadsheet: one row per image with a patient and either a
// benign/malignant label or a lesion type (histopathology). The archive's
// exact layout is unknown, so column names are configurable (with common
// names guessed) and image names are looked up anywhere under the images
// folder, with or without extension.

import { DatasetBuilder } from './builder.js';
import type { DatasetItem, LoadOptions, LoadedSource } from './types.js';
import { FileIndex, type FindResult, formatProblem, patientFromName } from './files.js';
import { CENBI_CLASSES, type BinaryClass, type LesionMapping, classifyLabel, classifyLesion, loadMapping } from './lesions.js';
import type { Problem } from './problems.js';
import type { CenbiSpec } from './spec.js';
import { type Table, findColumn, readTable, requireColumn } from './table.js';

export const DEFAULT_CENBI_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'];

const GUESSES = {
  file: ['file', 'filename', 'file name', 'image', 'image name', 'image id', 'img', 'path', 'name'],
  label: ['label', 'class', 'benign/malignant', 'malignancy', 'category'],
  lesion: ['lesion', 'lesion type', 'histopathology', 'histology', 'pathology', 'diagnosis'],
  patient: ['patient', 'patient id', 'patientid', 'patient number', 'subject', 'case'],
};

interface Columns {
  file: number;
  label: number;
  lesion: number;
  patient: number;
}

function pickColumns(table: Table, spec: CenbiSpec): Columns {
  const c = spec.columns ?? {};
  const file = requireColumn(table, 'the image file', c.file, GUESSES.file);
  // An explicitly named column must exist; a guessed one may be absent.
  const label = c.label !== undefined ? requireColumn(table, 'label', c.label, []) : c.lesion === undefined ? findColumn(table, undefined, GUESSES.label) : -1;
  const lesion = c.lesion !== undefined ? requireColumn(table, 'lesion', c.lesion, []) : label < 0 ? findColumn(table, undefined, GUESSES.lesion) : -1;
  if (label < 0 && lesion < 0) {
    const tried = [...GUESSES.label, ...GUESSES.lesion].map((g) => `'${g}'`).join(', ');
    throw new Error(`${table.path}: no label or lesion column (looked for ${tried}); columns found: ${table.columns.map((x) => `'${x}'`).join(', ')}. Name one in "columns".`);
  }
  const patient = c.patient !== undefined ? requireColumn(table, 'patient', c.patient, []) : findColumn(table, undefined, GUESSES.patient);
  return { file, label, lesion, patient };
}

/** Counts per lesion type, for the notes (shows the user how each type was mapped). */
type LesionTally = Map<string, { cls: BinaryClass; how: string; count: number }>;

function rowClass(cells: string[], cols: Columns, mapping: LesionMapping, tally: LesionTally): BinaryClass | Problem {
  if (cols.label >= 0) {
    const value = cells[cols.label] ?? '';
    return classifyLabel(value, mapping) ?? { kind: 'unmapped-label', label: value, detail: 'not benign/malignant and not in the mapping' };
  }
  const lesion = cells[cols.lesion] ?? '';
  if (lesion === '') return { kind: 'unmapped-label', label: '', detail: 'no lesion type' };
  const c = classifyLesion(lesion, mapping);
  const t = tally.get(lesion) ?? { ...c, count: 0 };
  t.count += 1;
  tally.set(lesion, t);
  return c.cls;
}

function notesFor(table: Table, cols: Columns, tally: LesionTally): string[] {
  const name = (i: number): string => (i >= 0 ? `'${table.columns[i]}'` : '-');
  const notes = [`columns: file ${name(cols.file)}, label ${name(cols.label)}, lesion ${name(cols.lesion)}, patient ${name(cols.patient)}${cols.patient < 0 ? ' (patient ids parsed from file names)' : ''}`];
  for (const [lesion, t] of [...tally].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    notes.push(`lesion '${lesion}' (${t.count} rows) -> ${t.cls} (${t.how})`);
  return notes;
}

interface RowContext {
  cols: Columns;
  mapping: LesionMapping;
  index: FileIndex;
  extensions: readonly string[];
  tally: LesionTally;
}

/** The item a row describes, or everything wrong with it. */
function rowItem(row: number, cells: string[], ctx: RowContext): DatasetItem | Problem[] {
  const ref = cells[ctx.cols.file] ?? '';
  const cls = rowClass(cells, ctx.cols, ctx.mapping, ctx.tally);
  const found: FindResult = ref === '' ? { problem: { kind: 'missing-file', detail: 'no file name' } } : ctx.index.find(ref, ctx.extensions);
  const problems: Problem[] = [];
  if (typeof cls !== 'string') problems.push({ ...cls, row });
  if ('problem' in found) problems.push({ ...found.problem, row });
  else {
    const bad = formatProblem(found.file);
    if (bad) problems.push({ ...bad, row, file: found.file });
  }
  if (problems.length > 0 || typeof cls !== 'string' || !('file' in found)) return problems;
  const patient = ctx.cols.patient >= 0 ? (cells[ctx.cols.patient] ?? '') : '';
  const group = patient !== '' ? patient : patientFromName(ref);
  return { file: found.file, label: CENBI_CLASSES.indexOf(cls), ...(group !== undefined ? { group } : {}) };
}

export async function loadCenbiSheet(spec: CenbiSpec, options: LoadOptions): Promise<LoadedSource> {
  const table = await readTable(spec.sheet, spec.worksheet);
  const cols = pickColumns(table, spec);
  const ctx: RowContext = {
    cols,
    mapping: loadMapping(options.mapping ?? spec.mapping),
    index: FileIndex.build(spec.images),
    extensions: spec.extensions ?? DEFAULT_CENBI_EXTENSIONS,
    tally: new Map(),
  };
  const builder = new DatasetBuilder(`CE-NBI sheet ${table.path}`, [...CENBI_CLASSES]);
  for (const { row, cells } of table.rows) {
    const item = rowItem(row, cells, ctx);
    if (Array.isArray(item)) builder.reject(item);
    else builder.add(item, row);
  }
  const meta = { name: spec.name ?? 'cenbi', root: spec.images, notes: notesFor(table, cols, ctx.tally) };
  return builder.finish(meta, options);
}
