// Generic manifest: a CSV `path,label[,group]` (header required). Paths are
// relative to the CSV's folder or to `root`; labels are class names and the
// classes are the distinct labels in code-unit order (locale-independent, like
// the split), so the same CSV gives the same class indices everywhere.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';

import { DatasetBuilder } from './builder.js';
import type { DatasetItem, LoadOptions, LoadedSource } from './types.js';
import { formatProblem } from './files.js';
import type { Problem } from './problems.js';
import type { ManifestSpec } from './spec.js';
import { findColumn, readTable, requireColumn } from './table.js';

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function rowItem(row: number, cells: string[], cols: [number, number, number], base: string, classes: string[]): DatasetItem | Problem[] {
  const [pathCol, labelCol, groupCol] = cols;
  const ref = (cells[pathCol] ?? '').replace(/\\/g, '/');
  const labelName = cells[labelCol] ?? '';
  const problems: Problem[] = [];
  if (labelName === '') problems.push({ kind: 'unmapped-label', row, label: '', detail: 'no label' });
  const file = ref === '' ? '' : isAbsolute(ref) ? ref : resolve(base, ref);
  if (file === '') problems.push({ kind: 'missing-file', row, detail: 'no path' });
  else if (!existsSync(file) || !statSync(file).isFile()) problems.push({ kind: 'missing-file', row, detail: `'${ref}' not found (${file})` });
  else {
    const bad = formatProblem(file);
    if (bad) problems.push({ ...bad, row, file });
  }
  if (problems.length > 0) return problems;
  const group = groupCol >= 0 ? (cells[groupCol] ?? '') : '';
  return { file, label: classes.indexOf(labelName), ...(group !== '' ? { group } : {}) };
}

export async function loadManifest(spec: ManifestSpec, options: LoadOptions): Promise<LoadedSource> {
  const table = await readTable(spec.csv);
  const cols: [number, number, number] = [
    requireColumn(table, 'path', undefined, ['path', 'file']),
    requireColumn(table, 'label', undefined, ['label', 'class']),
    findColumn(table, undefined, ['group', 'patient']),
  ];
  const base = spec.root ?? dirname(spec.csv);
  const classes = [...new Set(table.rows.map((r) => r.cells[cols[1]] ?? '').filter((l) => l !== ''))].sort(byCodeUnit);
  const builder = new DatasetBuilder(`manifest ${table.path}`, classes);
  for (const { row, cells } of table.rows) {
    const item = rowItem(row, cells, cols, base, classes);
    if (Array.isArray(item)) builder.reject(item);
    else builder.add(item, row);
  }
  const meta = { name: spec.name ?? basename(spec.csv).replace(/\.[^.]*$/, ''), root: base };
  return builder.finish(meta, options);
}
