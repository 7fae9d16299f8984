// Kaggle Diabetic Retinopathy: trainLabels.csv (`image,level`, level 0-4) and
// a folder of `{id}_{left|right}.jpeg`. Both eyes of a person share the id,
// which becomes the group so --group-by patient keeps them together.
import { DatasetBuilder } from './builder.js';
import type { DatasetItem, LoadOptions, LoadedSource } from './types.js';
import { FileIndex, formatProblem } from './files.js';
import type { Problem } from './problems.js';
import type { DrSpec } from './spec.js';
import { readTable, requireColumn } from './table.js';

export const DR_CLASSES = ['0', '1', '2', '3', '4'];
export const DEFAULT_DR_EXTENSIONS = ['.jpeg', '.jpg', '.png'];

/** "10_left" -> "10"; names without an eye suffix have no group. */
export function drPatient(image: string): string | undefined {
  return /^(.+)_(left|right)$/i.exec(image.replace(/\.(jpe?g|png)$/i, ''))?.[1];
}

function rowItem(row: number, image: string, level: string, index: FileIndex, extensions: readonly string[]): DatasetItem | Problem[] {
  const problems: Problem[] = [];
  const label = DR_CLASSES.indexOf(level);
  if (label < 0) problems.push({ kind: 'unmapped-label', row, label: level, detail: 'level must be 0, 1, 2, 3 or 4' });
  const found = image === '' ? { problem: { kind: 'missing-file' as const, detail: 'no image name' } } : index.find(image, extensions);
  if ('problem' in found) problems.push({ ...found.problem, row });
  else {
    const bad = formatProblem(found.file);
    if (bad) problems.push({ ...bad, row, file: found.file });
  }
  if (problems.length > 0 || !('file' in found)) return problems;
  const group = drPatient(image);
  return { file: found.file, label, ...(group !== undefined ? { group } : {}) };
}

export async function loadDr(spec: DrSpec, options: LoadOptions): Promise<LoadedSource> {
  const table = await readTable(spec.csv);
  const imageCol = requireColumn(table, 'image', 'image', []);
  const levelCol = requireColumn(table, 'level', 'level', []);
  const index = FileIndex.build(spec.images);
  const extensions = spec.extensions ?? DEFAULT_DR_EXTENSIONS;
  const builder = new DatasetBuilder(`DR labels ${table.path}`, [...DR_CLASSES]);
  for (const { row, cells } of table.rows) {
    const item = rowItem(row, cells[imageCol] ?? '', cells[levelCol] ?? '', index, extensions);
    if (Array.isArray(item)) builder.reject(item);
    else builder.add(item, row);
  }
  const notes = [`images from ${spec.images}; group = the id before _left/_right`];
  return builder.finish({ name: spec.name ?? 'dr', root: spec.images, notes }, options);
}
